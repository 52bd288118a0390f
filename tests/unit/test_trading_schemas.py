"""The order document the order-entry routes send is what OrderResponse would serialise to."""

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter
from pydantic_core import to_json

from openbell.contracts.enums import (
    InstrumentStatus,
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from openbell.contracts.results import InstrumentView
from openbell.trading.domain.orders import Order
from openbell.trading.entrypoints.schemas import OrderResponse, order_document, order_response

ETH = InstrumentView(
    "ETH-USD", "ETH", "USD", 8, 2, "0.1", "0.001", 1, 10**9, 20_000, 1_000, 10, 20,
    InstrumentStatus.TRADING,
)  # fmt: skip
SERIALISED_BY_FASTAPI = TypeAdapter(OrderResponse)

orders = st.builds(
    Order,
    order_id=st.integers(1, 2**63 - 1),
    account_id=st.integers(1, 2**63 - 1),
    client_order_id=st.from_regex(r"^[A-Za-z0-9_.:-]{1,64}$", fullmatch=True),
    symbol=st.just("ETH-USD"),
    side=st.sampled_from(Side),
    order_type=st.sampled_from(OrderType),
    price=st.none() | st.integers(1, 2**63 - 1),
    quantity=st.integers(1, 2**63 - 1),
    time_in_force=st.sampled_from(TimeInForce),
    post_only=st.booleans(),
    self_trade_prevention=st.sampled_from(SelfTradePrevention),
    created_at=st.integers(0, 2**63 - 1),
    updated_at=st.integers(0, 2**63 - 1),
    status=st.sampled_from(OrderStatus),
    filled_quantity=st.integers(0, 2**40),
    filled_amount=st.integers(0, 2**60),
    fees_paid=st.integers(0, 2**50),
    reason=st.none() | st.sampled_from(["requested", "unfilled_ioc", "insufficient_funds"]),
)


@given(orders)
def test_the_order_document_is_the_json_of_the_order_response(order):
    response = order_response(order, ETH)
    assert to_json(order_document(order, ETH)) == SERIALISED_BY_FASTAPI.dump_json(response)
    assert response.model_dump(mode="json") == order_document(order, ETH)
