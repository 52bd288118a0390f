"""The exchange's state as plain data, for snapshots, and the hash replay must reproduce.

The export is canonical: two exchanges that reached the same state by the same
commands export identical data, whether built by replay or restored from a
snapshot, so the hash of the export identifies the state.

Fields are only ever appended to a row, so a snapshot written by an older version
still restores, and keeps its own hash (taken over the stored data):

- an order row without `original_quantity` (written before orders kept it) takes
  its current quantity as the original, the best the snapshot knows;
- an order row without `fee_credit` was written when fees were rounded down per
  fill and a buy's fee hold with them; a buy takes as credit the part its hold
  rounded off, so that the hold it has is exactly what it needs under rounding up
  (the venue forgoes under one minor unit on such an order, once), a sell none.
"""

import hashlib
from typing import Any

from openbell.contracts.enums import (
    InstrumentStatus,
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from openbell.core.domain.book import Order
from openbell.core.domain.exchange import Exchange
from openbell.core.domain.instruments import BPS, Instrument
from openbell.core.domain.ledger import Balance
from openbell.shared.money import Quantity

FORMAT_VERSION = 1
_FIRST_ORDER_ROW = 19
"""How many fields an order row had before `original_quantity` and `fee_credit`."""

State = dict[str, Any]


def export_state(exchange: Exchange) -> State:
    """Everything `restore_state` needs, as nested lists of ints, strings, bools and None."""
    counter = exchange.counter
    return {
        "version": FORMAT_VERSION,
        "sequence": exchange.sequence,
        "next_order_id": counter.next_order_id,
        "next_trade_id": counter.next_trade_id,
        "next_account_id": exchange.ledger.next_account_id,
        "halted": exchange.halted,
        "halt_reason": exchange.halt_reason,
        "assets": [[asset, scale] for asset, scale in exchange.assets.items()],
        "instruments": [
            _export_instrument(m.instrument, m.book.sequence) for m in exchange.markets.values()
        ],
        "accounts": [
            [account_id, [[a, balances[a].available, balances[a].held] for a in sorted(balances)]]
            for account_id, balances in sorted(exchange.ledger.accounts())
        ],
        "orders": [
            _export_order(order)
            for market in exchange.markets.values()
            for side in (market.book.bids, market.book.asks)
            for order in side.resting()
        ],
        "client_order_ids": [
            [account_id, client_order_id, order_id]
            for (account_id, client_order_id), order_id in exchange.client_order_ids.items()
        ],
        "deposits": [[reference, *deposit] for reference, deposit in exchange.deposits.items()],
    }


def hash_state(state: State) -> str:
    """SHA-256 of a canonical export; equal states give equal hashes."""
    return hashlib.sha256(repr(state).encode()).hexdigest()


def state_hash(exchange: Exchange) -> str:
    return hash_state(export_state(exchange))


def restore_state(state: State) -> Exchange:
    """Rebuild an exchange from `export_state` output."""
    if state.get("version") != FORMAT_VERSION:
        raise ValueError(f"unsupported state format {state.get('version')!r}")
    exchange = Exchange()
    exchange.sequence = state["sequence"]
    exchange.counter.next_order_id = state["next_order_id"]
    exchange.counter.next_trade_id = state["next_trade_id"]
    exchange.ledger.next_account_id = state["next_account_id"]
    exchange.halted, exchange.halt_reason = state["halted"], state["halt_reason"]
    exchange.assets = dict(state["assets"])
    for account_id, balances in state["accounts"]:
        exchange.ledger.restore_account(
            account_id, {asset: Balance(available, held) for asset, available, held in balances}
        )
    for row in state["instruments"]:
        _restore_instrument(exchange, row)
    for row in state["orders"]:
        _restore_order(exchange, row)
    exchange.client_order_ids = {
        (account_id, client_order_id): order_id
        for account_id, client_order_id, order_id in state["client_order_ids"]
    }
    exchange.deposits = {
        reference: (account_id, asset, amount)
        for reference, account_id, asset, amount in state["deposits"]
    }
    return exchange


def _export_instrument(i: Instrument, book_sequence: int) -> list[Any]:
    return [
        i.symbol,
        i.base_asset,
        i.quote_asset,
        i.tick_size,
        i.lot_size,
        i.min_quantity,
        i.max_quantity,
        i.reference_price,
        i.price_band_bps,
        i.maker_fee_bps,
        i.taker_fee_bps,
        i.status.value,
        i.halt_reason,
        book_sequence,
    ]


def _restore_instrument(exchange: Exchange, row: list[Any]) -> None:
    symbol, base, quote, tick, lot, low, high, reference, band, maker, taker = row[:11]
    status, halt_reason, book_sequence = row[11:]
    scales = (exchange.assets[base], exchange.assets[quote])
    instrument = Instrument(
        symbol, base, quote, scales, tick, lot, (low, high), (reference, band), (maker, taker)
    )
    instrument.status = InstrumentStatus(status)
    instrument.halt_reason = halt_reason
    exchange.add_market(instrument).book.sequence = book_sequence


def _export_order(o: Order) -> list[Any]:
    return [
        o.order_id,
        o.account_id,
        o.client_order_id,
        o.symbol,
        o.side.value,
        o.order_type.value,
        o.price,
        o.quantity,
        o.remaining,
        o.filled,
        o.filled_amount,
        o.fees_paid,
        o.time_in_force.value,
        o.post_only,
        o.self_trade_prevention.value,
        o.created_at,
        o.updated_at,
        o.status.value,
        o.held,
        o.original_quantity,
        o.fee_credit,
    ]


def _restore_order(exchange: Exchange, row: list[Any]) -> None:
    order_id, account_id, client_order_id, symbol, side, order_type, price, quantity = row[:8]
    remaining, filled, filled_amount, fees_paid, time_in_force, post_only, stp = row[8:15]
    created_at, updated_at, status, held = row[15:_FIRST_ORDER_ROW]
    market = exchange.markets[symbol]
    instrument = market.instrument
    quote = exchange.ledger.balance(account_id, instrument.quote_asset)
    base = exchange.ledger.balance(account_id, instrument.base_asset)
    is_buy = side == Side.BUY.value
    order = Order(
        order_id,
        account_id,
        client_order_id,
        symbol,
        Side(side),
        OrderType(order_type),
        price,
        quantity,
        TimeInForce(time_in_force),
        post_only,
        SelfTradePrevention(stp),
        created_at,
        (quote, base) if is_buy else (base, quote),
    )
    order.remaining, order.filled = remaining, filled
    order.filled_amount, order.fees_paid = filled_amount, fees_paid
    order.updated_at, order.status, order.held = updated_at, OrderStatus(status), held
    order.original_quantity, order.fee_credit = _appended_fields(row, order, instrument)
    market.book.side_of(order.side).add(order)
    exchange.open_orders[order_id] = order


def _appended_fields(row: list[Any], order: Order, instrument: Instrument) -> tuple[Quantity, int]:
    """`original_quantity` and `fee_credit`, or what stands in for them in an older row."""
    extra = row[_FIRST_ORDER_ROW:]
    original_quantity = extra[0] if extra else order.quantity
    if len(extra) > 1:
        return original_quantity, extra[1]
    if order.side is not Side.BUY:
        return original_quantity, 0
    notional = order.price * order.remaining * instrument.quote_per_tick_lot
    return original_quantity, notional * instrument.hold_fee_bps % BPS
