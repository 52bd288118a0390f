"""What the trading use cases raise; the HTTP layer turns each into a problem document."""

from openbell.contracts.enums import RejectReason
from openbell.shared.errors import ConflictError, NotFoundError, OpenbellError, UnavailableError
from openbell.trading.domain.orders import Order


class OrderRejectedError(OpenbellError):
    """The core refused the command; `order` is the order it concerned, when there is one."""

    def __init__(self, reason: RejectReason, order: Order | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.order = order


class OrderNotFoundError(NotFoundError):
    """No such order for this account (whether it exists for another is never said)."""


class OrderNotOpenError(ConflictError):
    """The caller's order has finished, so it can no longer be cancelled or amended."""

    def __init__(self, order: Order) -> None:
        super().__init__("the order is no longer open")
        self.order = order


class ClientOrderIdReusedError(ConflictError):
    """A client order id sent again with other parameters than the order it names.

    `mismatched` names the differing parameters, by their API names.
    """

    def __init__(self, order: Order, mismatched: list[str]) -> None:
        super().__init__("the client order id names an order placed with other parameters")
        self.order = order
        self.mismatched = mismatched


class ReadModelBehindError(UnavailableError):
    """The read model has not caught up within the wait allowed; retry shortly."""
