"""DeadLetterService: decode, call the handler, encode. Any instance answers
(every instance holds the whole `dead-letters` topic): nothing is forwarded."""

from __future__ import annotations

import grpc

from gateway.api.auth import principal
from gateway.app.commands import ListDeadLetters
from gateway.app.handlers import DeadLetters
from oms.deadletter.v1 import dead_letter_service_pb2, dead_letter_service_pb2_grpc


class DeadLetterService(dead_letter_service_pb2_grpc.DeadLetterServiceServicer):
    def __init__(self, dead_letters: DeadLetters) -> None:
        self.dead_letters = dead_letters

    async def ListDeadLetters(
        self, request: dead_letter_service_pb2.ListDeadLettersRequest, context: grpc.aio.ServicerContext
    ) -> dead_letter_service_pb2.ListDeadLettersResponse:
        query = ListDeadLetters(request.processor, request.page_size, request.page_token)
        return await self.dead_letters.list(query, principal())
