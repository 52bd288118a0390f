"""Orders and fills as table rows and back, for every SQL adapter of the read model."""

from collections.abc import Iterable, Mapping
from typing import Any, Final

from openbell.contracts.enums import (
    Liquidity,
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from openbell.trading.domain.orders import Fill, Order

MUTABLE_COLUMNS: Final = (
    "price",
    "quantity",
    "status",
    "filled_quantity",
    "filled_amount",
    "fees_paid",
    "reason",
    "updated_at",
    "sequence",
)
"""What the projection may change on a stored order."""


def order_rows(items: Iterable[Order]) -> list[dict[str, Any]]:
    return [
        {
            "order_id": order.order_id,
            "account_id": order.account_id,
            "client_order_id": order.client_order_id,
            "symbol": order.symbol,
            "side": order.side.value,
            "order_type": order.order_type.value,
            "price": order.price,
            "quantity": order.quantity,
            "time_in_force": order.time_in_force.value,
            "post_only": order.post_only,
            "self_trade_prevention": order.self_trade_prevention.value,
            "status": order.status.value,
            "filled_quantity": order.filled_quantity,
            "filled_amount": order.filled_amount,
            "fees_paid": order.fees_paid,
            "reason": order.reason,
            "created_at": order.created_at,
            "updated_at": order.updated_at,
            "sequence": order.sequence,
            "original_price": order.original_price,
            "original_quantity": order.original_quantity,
        }
        for order in items
    ]


def order_updates(items: Iterable[Order]) -> list[dict[str, Any]]:
    """The mutable columns of each order, and its id as `key`."""
    return [
        {"key": row["order_id"], **{name: row[name] for name in MUTABLE_COLUMNS}}
        for row in order_rows(items)
    ]


def order_from_row(m: Mapping[Any, Any]) -> Order:
    return Order(
        order_id=m["order_id"],
        account_id=m["account_id"],
        client_order_id=m["client_order_id"],
        symbol=m["symbol"],
        side=Side(m["side"]),
        order_type=OrderType(m["order_type"]),
        price=m["price"],
        quantity=m["quantity"],
        time_in_force=TimeInForce(m["time_in_force"]),
        post_only=bool(m["post_only"]),
        self_trade_prevention=SelfTradePrevention(m["self_trade_prevention"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        sequence=m["sequence"],
        original_price=m["original_price"],
        original_quantity=m["original_quantity"],
        status=OrderStatus(m["status"]),
        filled_quantity=m["filled_quantity"],
        filled_amount=m["filled_amount"],
        fees_paid=m["fees_paid"],
        reason=m["reason"],
    )


def fill_row(fill: Fill) -> dict[str, Any]:
    return {
        "trade_id": fill.trade_id,
        "liquidity": fill.liquidity.value,
        "account_id": fill.account_id,
        "order_id": fill.order_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "price": fill.price,
        "quantity": fill.quantity,
        "quote_amount": fill.quote_amount,
        "fee": fill.fee,
        "executed_at": fill.executed_at,
        "sequence": fill.sequence,
    }


def fill_from_row(m: Mapping[Any, Any]) -> Fill:
    return Fill(
        trade_id=m["trade_id"],
        account_id=m["account_id"],
        order_id=m["order_id"],
        symbol=m["symbol"],
        side=Side(m["side"]),
        price=m["price"],
        quantity=m["quantity"],
        quote_amount=m["quote_amount"],
        fee=m["fee"],
        liquidity=Liquidity(m["liquidity"]),
        executed_at=m["executed_at"],
        sequence=m["sequence"],
    )
