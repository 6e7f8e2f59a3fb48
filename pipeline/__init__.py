"""The order workflow's processors (the three checks, the aggregator and the
order routing) in one process: the layout "combined" (OMS_LAYOUT)."""
