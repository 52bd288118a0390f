"""The order-entry REST API: request model -> contracts command -> port -> response model.

Every route but `/v1/time` needs a bearer token: `read` for queries, `trade` for
changes. Account routes act only on the token's own trading account; another
account's order answers 404, exactly as an order that does not exist.

Placing, amending and cancelling (by order id or client order id) are the hot path,
so they are direct routes (see `openbell.platform.web.direct`): `_OrderEntry` serves
them without FastAPI's dependency injection and response re-validation, checking the
token, the scope and the strict request models itself, and the signatures of
`place_order`, `amend_order`, `cancel_order` and `cancel_order_by_client_id`
document them as before. Cancel-all (`DELETE /v1/orders`) is an ordinary route.
"""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Final, Literal, NoReturn, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import Field
from pydantic_core import to_json
from starlette.types import Receive, Scope, Send

from openbell.contracts.commands import AmendOrder, CancelOrder, PlaceOrder
from openbell.contracts.enums import (
    OrderType,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from openbell.contracts.results import InstrumentView
from openbell.platform.auth import Principal, require_scope
from openbell.platform.problems import PROBLEM_CONTENT, ProblemError
from openbell.platform.web.direct import (
    Validator,
    add_direct_route,
    json_body,
    read_body,
    send_json,
    validation_error,
)
from openbell.shared.errors import OverloadedError, UnavailableError
from openbell.shared.ids import (
    AccountId,
    ClientOrderId,
    OrderId,
    SequenceNumber,
    Symbol,
    TradeId,
)
from openbell.shared.time import Timestamp
from openbell.trading.application.errors import (
    ClientOrderIdReusedError,
    OrderNotFoundError,
    OrderNotOpenError,
    OrderRejectedError,
)
from openbell.trading.application.orders import OrderService
from openbell.trading.application.ports import CoreReader, FillQuery, OrderQuery, SequenceQuery
from openbell.trading.bootstrap import Trading
from openbell.trading.domain.orders import Fill, Order
from openbell.trading.domain.units import MAX_UNITS, UnitError, to_lots, to_ticks
from openbell.trading.entrypoints.schemas import (
    CLIENT_ORDER_ID_PATTERN,
    SYMBOL_PATTERN,
    AmendOrderRequest,
    BalanceResponse,
    BookResponse,
    CancelledOrders,
    InstrumentResponse,
    OrderPage,
    OrderResponse,
    PlaceOrderRequest,
    TimeResponse,
    TradePage,
    TradeResponse,
    balance_response,
    book_response,
    instrument_response,
    order_document,
    time_response,
    trade_response,
)

_Id = TypeVar("_Id", OrderId, TradeId)

PREFIX: Final = "/v1"
DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 1_000
DEFAULT_DEPTH: Final = 20
MAX_DEPTH: Final = 500
RETRY_AFTER_SECONDS: Final = "1"

_AUTH_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    401: {"description": "Missing or invalid access token", **PROBLEM_CONTENT},
    403: {"description": "Missing scope, or no trading account", **PROBLEM_CONTENT},
}
_READ_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    **_AUTH_RESPONSES,
    503: {
        "description": "The exchange is busy or unavailable; retry after Retry-After",
        **PROBLEM_CONTENT,
    },
}
_ORDER_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    **_READ_RESPONSES,
    404: {"description": "No such order for this account", **PROBLEM_CONTENT},
}
_PLACE_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "model": OrderResponse,
        "description": "A retry: the order placed earlier with this client_order_id and "
        "the same parameters",
    },
    409: {
        "description": "client_order_id_reused: the client_order_id names an order placed "
        "with other parameters; `mismatched` lists them, `order_id` names the order",
        **PROBLEM_CONTENT,
    },
    **_READ_RESPONSES,
}

OrderIdPath = Annotated[int, Path(ge=1, le=MAX_UNITS, description="The order's id.")]
SymbolFilter = Annotated[str | None, Query(pattern=SYMBOL_PATTERN)]
PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Cursor = Annotated[
    int | None, Query(ge=1, le=MAX_UNITS, description="`next_cursor` of the previous page.")
]
AfterSequence = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_UNITS,
        description="Read what changed after this sequence, oldest first, in pages of whole "
        "commands; pass `next_after_sequence` for the next page. Not with `cursor`.",
    ),
]
ClientOrderIdPath = Annotated[
    str,
    Path(
        pattern=CLIENT_ORDER_ID_PATTERN,
        description="The client_order_id the order was placed with.",
    ),
]


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return names


async def _refuse_unknown_query(request: Request) -> None:
    """Refuse a query parameter the route does not take: a mistyped one must not be ignored.

    `GET /v1/orders?after_seqence=5` would otherwise list open orders, newest first,
    to a client that believes it is resyncing.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names(route.dependant)
    unknown = [name for name in dict.fromkeys(request.query_params) if name not in known]
    if unknown:
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name),
                    "msg": "Extra inputs are not permitted",
                    "input": request.query_params[name],
                }
                for name in unknown
            ]
        )


StrictQuery = Annotated[None, Depends(_refuse_unknown_query)]
"""Last parameter of every query route: checked after the token, as validation is."""


def _account_of(principal: Principal) -> AccountId:
    if principal.account_id is None:
        raise ProblemError(
            403,
            "Forbidden",
            reason="no_trading_account",
            detail="This token is not tied to a trading account.",
        )
    return AccountId(principal.account_id)


async def _reader_account(
    principal: Annotated[Principal, Depends(require_scope("read"))],
) -> AccountId:
    return _account_of(principal)


async def _trader_account(
    principal: Annotated[Principal, Depends(require_scope("trade"))],
) -> AccountId:
    return _account_of(principal)


ReadAccount = Annotated[AccountId, Depends(_reader_account)]
TradeAccount = Annotated[AccountId, Depends(_trader_account)]
Reader = Annotated[Principal, Depends(require_scope("read"))]


class _Presenter:
    """Turns orders and fills into responses with their instrument's units."""

    def __init__(self, core: CoreReader) -> None:
        self._core = core

    def instrument(self, symbol: Symbol) -> InstrumentView:
        instrument = self._core.instrument(symbol)
        if instrument is None:
            raise ProblemError(
                422,
                "Unprocessable Content",
                reason=RejectReason.UNKNOWN_SYMBOL.value,
                detail="No instrument has this symbol.",
            )
        return instrument

    def document(self, order: Order) -> dict[str, Any]:
        """The order as OrderResponse's JSON document."""
        return order_document(order, self.instrument(order.symbol))

    def order(self, order: Order) -> OrderResponse:
        return OrderResponse.model_validate(self.document(order))

    def order_json(self, order: Order) -> bytes:
        """The order as the bytes FastAPI would send for an OrderResponse."""
        return to_json(self.document(order))

    def orders(self, orders: list[Order]) -> list[OrderResponse]:
        return [self.order(order) for order in orders]


@contextmanager
def _problems(presenter: _Presenter) -> Iterator[None]:
    """Translate the use cases' errors into problem documents."""
    try:
        yield
    except UnitError as error:
        raise ProblemError(
            422, "Unprocessable Content", reason=error.reason.value, detail=str(error)
        ) from None
    except OrderRejectedError as error:
        extensions = {} if error.order is None else {"order": presenter.document(error.order)}
        raise ProblemError(
            422,
            "Order rejected",
            reason=error.reason.value,
            detail="The exchange refused the order.",
            extensions=extensions,
        ) from None
    except OrderNotOpenError as error:
        raise ProblemError(
            422,
            "Order not open",
            reason=RejectReason.ORDER_NOT_OPEN.value,
            detail="The order has finished; it can no longer be changed.",
            extensions={"order": presenter.document(error.order)},
        ) from None
    except ClientOrderIdReusedError as error:
        raise ProblemError(
            409,
            "Conflict",
            reason="client_order_id_reused",
            detail="This client_order_id names an order placed with other parameters.",
            extensions={"order_id": error.order.order_id, "mismatched": error.mismatched},
        ) from None
    except OrderNotFoundError:
        raise ProblemError(
            404, "Not Found", reason="order_not_found", detail="No such order."
        ) from None
    except UnavailableError as error:
        overloaded = isinstance(error, OverloadedError)
        raise ProblemError(
            503,
            "Service Unavailable",
            reason="overloaded" if overloaded else "unavailable",
            detail="The exchange cannot take this request now; retry shortly.",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        ) from None


def _place_order_command(
    account_id: AccountId, request: PlaceOrderRequest, instrument: InstrumentView
) -> PlaceOrder:
    price = None if request.price is None else to_ticks(request.price, instrument)
    return PlaceOrder(
        account_id=account_id,
        client_order_id=ClientOrderId(request.client_order_id or f"ob-{secrets.token_hex(16)}"),
        symbol=instrument.symbol,
        side=Side(request.side),
        order_type=OrderType(request.type),
        price=price,
        quantity=to_lots(request.quantity, instrument),
        time_in_force=TimeInForce(request.resolved_time_in_force),
        post_only=request.post_only,
        self_trade_prevention=SelfTradePrevention(request.self_trade_prevention),
    )


def _amend_order_command(
    account_id: AccountId, order_id: OrderId, request: AmendOrderRequest, instrument: InstrumentView
) -> AmendOrder:
    return AmendOrder(
        account_id=account_id,
        order_id=order_id,
        quantity=None if request.quantity is None else to_lots(request.quantity, instrument),
        price=None if request.price is None else to_ticks(request.price, instrument),
    )


_PLACE_ORDER: Final = Validator[PlaceOrderRequest](PlaceOrderRequest, ("body",))
_AMEND_ORDER: Final = Validator[AmendOrderRequest](AmendOrderRequest, ("body",))
_ORDER_ID: Final = Validator[OrderId](
    Annotated[OrderId, Field(ge=1, le=MAX_UNITS)], ("path", "order_id")
)
_CLIENT_ORDER_ID: Final = Validator[ClientOrderId](
    Annotated[ClientOrderId, Field(pattern=CLIENT_ORDER_ID_PATTERN)], ("path", "client_order_id")
)


class _OrderEntry:
    """Places, amends and cancels orders as bare ASGI endpoints, each request in one pass.

    Each does what FastAPI did for the documented signature, in the same order: read
    and decode the body, authenticate (401) and check the `trade` scope and account
    (403), validate the path and body (422), then run the use case.
    """

    def __init__(self, orders: OrderService, presenter: _Presenter) -> None:
        self._orders = orders
        self._presenter = presenter
        self._trade = require_scope("trade")

    async def _trader(self, scope: Scope) -> AccountId:
        return _account_of(await self._trade.authorize(scope))

    async def place(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = json_body(scope, await read_body(receive))
        account_id = await self._trader(scope)
        errors: list[dict[str, Any]] = []
        request = _PLACE_ORDER.validate(body, errors)
        if request is None:
            raise validation_error(errors)
        presenter = self._presenter
        with _problems(presenter):
            instrument = presenter.instrument(Symbol(request.symbol))
            command = _place_order_command(account_id, request, instrument)
            placement = await self._orders.place_order(command)
        status = 201 if placement.created else 200
        await send_json(send, status, presenter.order_json(placement.order))

    async def amend(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = json_body(scope, await read_body(receive))
        account_id = await self._trader(scope)
        errors: list[dict[str, Any]] = []
        order_id = _ORDER_ID.validate(scope["path_params"]["order_id"], errors)
        request = _AMEND_ORDER.validate(body, errors)
        if order_id is None or request is None:
            raise validation_error(errors)
        presenter = self._presenter
        with _problems(presenter):
            order = await self._orders.open_order(account_id, order_id)
            instrument = presenter.instrument(order.symbol)
            command = _amend_order_command(account_id, order_id, request, instrument)
            amended = await self._orders.amend_order(command)
        await send_json(send, 200, presenter.order_json(amended))

    async def cancel(self, scope: Scope, _receive: Receive, send: Send) -> None:
        account_id = await self._trader(scope)
        errors: list[dict[str, Any]] = []
        order_id = _ORDER_ID.validate(scope["path_params"]["order_id"], errors)
        if order_id is None:
            raise validation_error(errors)
        presenter = self._presenter
        with _problems(presenter):
            cancelled = await self._orders.cancel_order(CancelOrder(account_id, order_id))
        await send_json(send, 200, presenter.order_json(cancelled))

    async def cancel_by_client_id(self, scope: Scope, _receive: Receive, send: Send) -> None:
        account_id = await self._trader(scope)
        errors: list[dict[str, Any]] = []
        client_order_id = _CLIENT_ORDER_ID.validate(scope["path_params"]["client_order_id"], errors)
        if client_order_id is None:
            raise validation_error(errors)
        presenter = self._presenter
        with _problems(presenter):
            cancelled = await self._orders.cancel_by_client_id(account_id, client_order_id)
        await send_json(send, 200, presenter.order_json(cancelled))


def _documentation_only() -> NoReturn:
    raise RuntimeError("a direct route's endpoint only documents it; its app serves it")


def _next_cursor(ids: list[_Id], limit: int) -> _Id | None:
    return ids[-1] if len(ids) == limit and ids else None


def _one_way_of_paging(cursor: int | None, after_sequence: int | None) -> None:
    if cursor is not None and after_sequence is not None:
        raise _query_problem("cursor", "Page by `cursor` or read from `after_sequence`, not both.")


def _query_problem(name: str, message: str) -> ProblemError:
    return ProblemError(
        422,
        "Unprocessable Content",
        reason="invalid_query",
        detail=message,
        extensions={"parameter": name},
    )


def create_router(trading: Trading) -> APIRouter:  # noqa: C901  # one closure per route
    """The /v1 order-entry routes, bound to one wired trading context."""
    router = APIRouter(prefix=PREFIX, tags=["trading"])
    orders = trading.orders
    core = trading.core
    presenter = _Presenter(core)

    @router.get(
        "/instruments",
        summary="Instruments and their trading rules",
        responses=_AUTH_RESPONSES,
    )
    async def list_instruments(
        _principal: Reader, _strict: StrictQuery = None
    ) -> list[InstrumentResponse]:
        return [instrument_response(instrument) for instrument in core.instruments()]

    @router.get(
        "/balances",
        summary="Your balances, as of the sequence each carries",
        responses=_AUTH_RESPONSES,
    )
    async def list_balances(
        account_id: ReadAccount, _strict: StrictQuery = None
    ) -> list[BalanceResponse]:
        scales = core.asset_scales()
        sequence, balances = orders.balances(account_id)
        return [balance_response(balance, scales[balance.asset], sequence) for balance in balances]

    entry = _OrderEntry(orders, presenter)

    # The signatures below document the direct routes; FastAPI never calls them.
    async def place_order(request: PlaceOrderRequest, account_id: TradeAccount) -> OrderResponse:  # noqa: ARG001
        _documentation_only()

    add_direct_route(
        router,
        "/orders",
        place_order,
        entry.place,
        methods=["POST"],
        summary="Place an order",
        status_code=201,
        responses=_PLACE_RESPONSES,
    )

    @router.get(
        "/orders",
        summary="Your orders: newest first, or changed after a sequence, oldest first",
        description=(
            "By default your open orders, newest first, paged by `cursor`. With "
            "`after_sequence=N`: every order whose latest change came after sequence N, "
            "whatever its status (`status=open` is refused there), oldest change first; "
            "a page holds whole commands, so one that changed several orders is never "
            "split (a page exceeds `limit` only when one command alone changed more)."
        ),
        responses=_READ_RESPONSES,
    )
    async def list_orders(
        account_id: ReadAccount,
        status: Annotated[
            Literal["open", "all"] | None,
            Query(description="`open` by default; `all` (implied) with `after_sequence`."),
        ] = None,
        symbol: SymbolFilter = None,
        limit: PageLimit = DEFAULT_PAGE,
        cursor: Cursor = None,
        after_sequence: AfterSequence = None,
        _strict: StrictQuery = None,
    ) -> OrderPage:
        _one_way_of_paging(cursor, after_sequence)
        symbol_id = None if symbol is None else Symbol(symbol)
        if after_sequence is not None:
            if status == "open":
                raise _query_problem(
                    "status", "`after_sequence` reads orders of every status: omit `status`."
                )
            query = SequenceQuery(
                account_id, SequenceNumber(after_sequence), symbol_id, limit=limit
            )
            with _problems(presenter):
                page = await orders.orders_after(query)
            return OrderPage(
                orders=presenter.orders(page.items),
                next_cursor=None,
                next_after_sequence=page.next_after_sequence,
            )
        listing = OrderQuery(
            account_id,
            status != "all",
            symbol_id,
            None if cursor is None else OrderId(cursor),
            limit,
        )
        with _problems(presenter):
            found = await orders.orders(listing)
        next_cursor = _next_cursor([order.order_id for order in found], limit)
        return OrderPage(
            orders=presenter.orders(found), next_cursor=next_cursor, next_after_sequence=None
        )

    @router.delete(
        "/orders",
        summary="Cancel all your open orders, or those of one symbol, in one command",
        description=(
            "Cancels every open order of yours (of `symbol`, when given) at once; "
            "allowed while the market is halted. Answers with the cancelled orders, "
            "by order id, each carrying the sequence of the cancel; an empty list "
            "when none was open, an unknown symbol included."
        ),
        responses=_READ_RESPONSES,
    )
    async def cancel_all_orders(
        account_id: TradeAccount, symbol: SymbolFilter = None, _strict: StrictQuery = None
    ) -> CancelledOrders:
        with _problems(presenter):
            cancelled = await orders.cancel_all(
                account_id, None if symbol is None else Symbol(symbol)
            )
        return CancelledOrders(cancelled=presenter.orders(cancelled))

    @router.get(
        "/orders/by-client-id/{client_order_id}",
        summary="One of your orders, by the client_order_id it was placed with",
        description=(
            "The newest of your orders placed with this client_order_id: the one it names, "
            "or, if none took it, the last one rejected with it."
        ),
        responses=_ORDER_RESPONSES,
    )
    async def get_order_by_client_id(
        client_order_id: ClientOrderIdPath, account_id: ReadAccount, _strict: StrictQuery = None
    ) -> OrderResponse:
        with _problems(presenter):
            found = await orders.order_by_client_id(account_id, ClientOrderId(client_order_id))
            return presenter.order(found)

    async def cancel_order_by_client_id(
        client_order_id: ClientOrderIdPath,  # noqa: ARG001
        account_id: TradeAccount,  # noqa: ARG001
    ) -> OrderResponse:
        _documentation_only()

    add_direct_route(
        router,
        "/orders/by-client-id/{client_order_id}",
        cancel_order_by_client_id,
        entry.cancel_by_client_id,
        methods=["DELETE"],
        summary="Cancel an open order by the client_order_id it was placed with",
        description="Answers as `DELETE /v1/orders/{order_id}` does for the order it names.",
        responses=_ORDER_RESPONSES,
    )

    @router.get(
        "/orders/{order_id}",
        summary="One of your orders",
        responses=_ORDER_RESPONSES,
    )
    async def get_order(
        order_id: OrderIdPath, account_id: ReadAccount, _strict: StrictQuery = None
    ) -> OrderResponse:
        with _problems(presenter):
            return presenter.order(await orders.order(account_id, OrderId(order_id)))

    async def amend_order(
        order_id: OrderIdPath,  # noqa: ARG001
        request: AmendOrderRequest,  # noqa: ARG001
        account_id: TradeAccount,  # noqa: ARG001
    ) -> OrderResponse:
        _documentation_only()

    add_direct_route(
        router,
        "/orders/{order_id}",
        amend_order,
        entry.amend,
        methods=["PATCH"],
        summary="Amend an open order's total quantity and/or price",
        responses=_ORDER_RESPONSES,
    )

    async def cancel_order(order_id: OrderIdPath, account_id: TradeAccount) -> OrderResponse:  # noqa: ARG001
        _documentation_only()

    add_direct_route(
        router,
        "/orders/{order_id}",
        cancel_order,
        entry.cancel,
        methods=["DELETE"],
        summary="Cancel an open order",
        responses=_ORDER_RESPONSES,
    )

    _add_fill_routes(router, orders, presenter)

    @router.get("/time", summary="The server's time")
    async def get_time(_strict: StrictQuery = None) -> TimeResponse:
        return time_response(Timestamp(trading.clock.now_ns()))

    @router.get(
        "/book/{symbol}",
        summary="Aggregated order book depth",
        responses={
            **_AUTH_RESPONSES,
            404: {"description": "No instrument has this symbol", **PROBLEM_CONTENT},
        },
    )
    async def get_book(
        symbol: Annotated[str, Path(pattern=SYMBOL_PATTERN)],
        _principal: Reader,
        depth: Annotated[int, Query(ge=1, le=MAX_DEPTH)] = DEFAULT_DEPTH,
        _strict: StrictQuery = None,
    ) -> BookResponse:
        instrument = core.instrument(Symbol(symbol))
        book = core.book(Symbol(symbol), depth)
        if instrument is None or book is None:
            raise ProblemError(
                404, "Not Found", reason=RejectReason.UNKNOWN_SYMBOL.value, detail="No such symbol."
            )
        return book_response(book, instrument)

    return router


def _add_fill_routes(router: APIRouter, orders: OrderService, presenter: _Presenter) -> None:
    @router.get(
        "/trades",
        summary="Your fills: newest first, or executed after a sequence, oldest first",
        description=(
            "Paged by `cursor`, newest first; or with `after_sequence=N`, the fills of "
            "commands after sequence N, oldest first, in pages of whole commands."
        ),
        responses=_READ_RESPONSES,
    )
    async def list_trades(
        account_id: ReadAccount,
        symbol: SymbolFilter = None,
        order_id: Annotated[int | None, Query(ge=1, le=MAX_UNITS)] = None,
        limit: PageLimit = DEFAULT_PAGE,
        cursor: Cursor = None,
        after_sequence: AfterSequence = None,
        _strict: StrictQuery = None,
    ) -> TradePage:
        _one_way_of_paging(cursor, after_sequence)
        symbol_id = None if symbol is None else Symbol(symbol)
        order = None if order_id is None else OrderId(order_id)
        if after_sequence is not None:
            query = SequenceQuery(
                account_id, SequenceNumber(after_sequence), symbol_id, order, limit
            )
            with _problems(presenter):
                page = await orders.fills_after(query)
            return TradePage(
                trades=_trades(page.items),
                next_cursor=None,
                next_after_sequence=page.next_after_sequence,
            )
        listing = FillQuery(
            account_id, symbol_id, order, None if cursor is None else TradeId(cursor), limit
        )
        with _problems(presenter):
            fills = await orders.fills(listing)
        next_cursor = _next_cursor([fill.trade_id for fill in fills], limit)
        return TradePage(trades=_trades(fills), next_cursor=next_cursor, next_after_sequence=None)

    def _trades(fills: list[Fill]) -> list[TradeResponse]:
        return [trade_response(fill, presenter.instrument(fill.symbol)) for fill in fills]
