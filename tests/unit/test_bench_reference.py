from openbell.bench.reference import FOK, GTC, IOC, ReferenceBook

BUY, SELL = True, False


def levels(book):
    bids, asks = book.depth()
    return [(price, quantity) for price, quantity, _ in bids], [(p, q) for p, q, _ in asks]


def quantity_of(book: ReferenceBook, order_id: int) -> int:
    order = book.resting(order_id)
    assert order is not None
    return order.quantity


def test_better_price_matches_first_then_earlier_order_at_the_same_price():
    book = ReferenceBook()
    book.place(1, SELL, 101, 5, GTC)
    book.place(2, SELL, 100, 5, GTC)
    book.place(3, SELL, 100, 5, GTC)
    book.place(4, BUY, 101, 8, GTC)
    assert book.resting(2) is None
    assert quantity_of(book, 3) == 2
    assert quantity_of(book, 1) == 5
    assert (book.trades, book.traded_quantity, book.last_price) == (2, 8, 100)


def test_ioc_remainder_is_dropped_and_never_rests():
    book = ReferenceBook()
    book.place(1, BUY, 100, 3, GTC)
    book.place(2, SELL, 99, 10, IOC)
    assert book.traded_quantity == 3
    assert levels(book) == ([], [])
    assert book.resting(2) is None


def test_ioc_that_does_not_cross_does_nothing():
    book = ReferenceBook()
    book.place(1, BUY, 100, 3, GTC)
    book.place(2, SELL, 101, 10, IOC)
    assert levels(book) == ([(100, 3)], [])


def test_fok_fills_completely_or_not_at_all():
    book = ReferenceBook()
    book.place(1, SELL, 100, 4, GTC)
    book.place(2, SELL, 102, 4, GTC)
    book.place(3, BUY, 101, 5, FOK)
    assert book.traded_quantity == 0
    assert levels(book) == ([], [(100, 4), (102, 4)])
    book.place(4, BUY, 102, 5, FOK)
    assert book.traded_quantity == 5
    assert levels(book) == ([], [(102, 3)])
    assert book.resting(4) is None


def test_reduce_keeps_time_priority():
    book = ReferenceBook()
    book.place(1, BUY, 100, 5, GTC)
    book.place(2, BUY, 100, 5, GTC)
    book.reduce(1, 3)
    book.place(3, SELL, 100, 2, IOC)
    assert book.resting(1) is None
    assert quantity_of(book, 2) == 5


def test_reducing_by_the_whole_open_quantity_cancels():
    book = ReferenceBook()
    book.place(1, BUY, 100, 5, GTC)
    book.reduce(1, 7)
    assert book.resting(1) is None
    assert levels(book) == ([], [])


def test_move_loses_time_priority():
    book = ReferenceBook()
    book.place(1, BUY, 99, 5, GTC)
    book.place(2, BUY, 100, 5, GTC)
    book.move(1, 100)
    book.place(3, SELL, 100, 5, IOC)
    assert book.resting(2) is None
    assert quantity_of(book, 1) == 5


def test_move_that_crosses_matches_at_once():
    book = ReferenceBook()
    book.place(1, SELL, 105, 5, GTC)
    book.place(2, BUY, 100, 8, GTC)
    book.move(2, 105)
    assert book.traded_quantity == 5
    assert levels(book) == ([(105, 3)], [])


def test_move_to_the_same_price_does_nothing():
    book = ReferenceBook()
    book.place(1, BUY, 100, 5, GTC)
    book.place(2, BUY, 100, 5, GTC)
    book.move(1, 100)
    book.place(3, SELL, 100, 5, IOC)
    assert book.resting(1) is None


def test_cancelled_and_unknown_orders_are_ignored():
    book = ReferenceBook()
    book.place(1, BUY, 100, 5, GTC)
    book.cancel(1)
    book.cancel(1)
    book.cancel(99)
    book.reduce(99, 1)
    book.move(99, 101)
    assert levels(book) == ([], [])
    book.place(2, SELL, 100, 5, GTC)
    assert book.traded_quantity == 0


def test_an_emptied_level_is_skipped_when_matching():
    book = ReferenceBook()
    book.place(1, SELL, 100, 5, GTC)
    book.place(2, SELL, 101, 5, GTC)
    book.cancel(1)
    book.place(3, BUY, 101, 2, GTC)
    assert book.traded_quantity == 2
    assert book.last_price == 101
    assert levels(book) == ([], [(101, 3)])
    assert book.order_counts() == (0, 1)
