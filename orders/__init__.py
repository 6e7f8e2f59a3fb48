"""The order domain: the Order aggregate, its events and their wire codec."""
