"""Only plain addresses (dot-atom@host.name) are accepted, and each is exactly one mailbox."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openbell.identity.adapters.mail import compose, plain_address, sender_address
from openbell.identity.domain.errors import InvalidUserDefinitionError
from openbell.identity.domain.users import normalize_email

ATEXT = "abcdefghijklmnopqrstuvwxyz0123456789#$&'*+/=?^_`{|}~-"


@pytest.mark.parametrize(
    ("given_address", "stored"),
    [
        ("alice@example.com", "alice@example.com"),
        ("New.Trader@Example.COM", "new.trader@example.com"),
        ("a.b+tag@mail.example.co.uk", "a.b+tag@mail.example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("x_y-z@sub-domain.example", "x_y-z@sub-domain.example"),
        ("user@xn--bcher-kva.example", "user@xn--bcher-kva.example"),
        ("  padded@example.com  ", "padded@example.com"),
        ("q?b=c@example.com", "q?b=c@example.com"),
        ("a" * 64 + "@example.com", "a" * 64 + "@example.com"),
    ],
)
def test_plain_addresses_are_accepted_and_lower_cased(given_address, stored):
    assert normalize_email(given_address) == stored


REFUSED = [
    # encoded words: a header parser decodes them into other mailboxes
    "=?utf-8?q?attacker=40evil.example=2c?=@corp.example",
    "=?utf-8?b?YXR0YWNrZXJAZXZpbC5leGFtcGxl?=@corp.example",
    "x=?utf-8?q?a?=@corp.example",
    # groups, display names, route addresses, several mailboxes
    "a: b@c;",
    "a:b@corp.example;",
    "undisclosed:;a@corp.example",
    "g:a@corp.example,b@evil.example;",
    "Alice <alice@example.com>",
    "<alice@example.com>",
    "alice@example.com, bob@evil.example",
    "@relay.example:alice@example.com",
    # quoted strings and comments
    '"x"@y.example',
    '"attacker@evil.example"@corp.example',
    "a(comment)@b.example",
    "alice@(comment)example.com",
    "alice@example.com(comment)",
    # IP literals and addresses that are not host names
    "a@[127.0.0.1]",
    "a@[IPv6:::1]",
    "a@1.2.3.4",
    "a@localhost",
    "a@b",
    "a@-b.example",
    "a@b-.example",
    "a@b..example",
    "a@.example.com",
    "a@example.com.",
    "a@exa_mple.com",
    "a@" + "x" * 64 + ".example",
    "a@" + ("x" * 60 + ".") * 5 + "com",  # longer than 254 in all
    # dots in the wrong places, empty parts, several @
    ".alice@example.com",
    "alice.@example.com",
    "al..ice@example.com",
    "@example.com",
    "alice@",
    "alice",
    "",
    "a@b@example.com",
    "a" * 65 + "@example.com",
    # routing tricks some servers still honour
    "attacker%evil.example@corp.example",
    "evil.example!attacker@corp.example",
    # control characters, line breaks, spaces, escapes
    "alice@example.com\r\nBcc: attacker@evil.example",
    "alice@example.com\nBcc: attacker@evil.example",
    "alice\r@example.com",
    "ali\x00ce@example.com",
    "alice\x00@example.com",
    "ali\tce@example.com",
    "al ice@example.com",
    "alice@exa mple.com",
    "ali\\ce@example.com",
    "ali\x7fce@example.com",
    # unicode look-alikes and invisible characters
    "\u0430lice@example.com",  # Cyrillic a
    "alice@ex\u0430mple.com",
    "alice\uff20evil.example@corp.example",  # fullwidth @
    "alice@corp\u3002example",  # ideographic full stop
    "ali\u200bce@example.com",  # zero-width space
    "alice@example.com\u202e",  # right-to-left override
    "\u212aelvin@example.com",  # Kelvin sign, K after NFKC
    "\ufb01nance@example.com",  # the fi ligature
    "jose\u0301@example.com",  # a combining accent
    "alice@example.com\u00a0",  # no-break space
]


@pytest.mark.parametrize("address", REFUSED)
def test_anything_but_a_plain_address_is_refused(address):
    with pytest.raises(InvalidUserDefinitionError):
        normalize_email(address)


NOT_ONE_MAILBOX = [
    "=?utf-8?q?attacker=40evil.example=2c?=@corp.example",
    "x=?utf-8?q?a?=@corp.example",
    "a: b@c;",
    "a:b@corp.example;",
    "undisclosed:;a@corp.example",
    "g:a@corp.example,b@evil.example;",
    "Alice <alice@example.com>",
    "<alice@example.com>",
    "alice@example.com, bob@evil.example",
    "@relay.example:alice@example.com",
    '"x"@y.example',
    '"attacker@evil.example"@corp.example',
    "a(comment)@b.example",
    "alice@example.com(comment)",
    "a@[127.0.0.1]",
    "alice@example.com\r\nBcc: attacker@evil.example",
    "ali\x00ce@example.com",
    "al ice@example.com",
    "alice\uff20evil.example@corp.example",
    "a@b@example.com",
    "@example.com",
    "alice@",
    "",
]


@pytest.mark.parametrize("address", NOT_ONE_MAILBOX)
def test_the_mailer_builds_no_message_for_anything_but_one_plain_mailbox(address):
    sender = sender_address("openbell <no-reply@openbell.invalid>")
    with pytest.raises(ValueError, match="plain email address"):
        compose(sender, address, "subject", "body\n")


_ATOM = st.text(ATEXT, min_size=1, max_size=10).filter(lambda atom: "=?" not in atom)
_LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)


@given(
    st.lists(_ATOM, min_size=1, max_size=4),
    st.lists(_LABEL, min_size=1, max_size=3),
    st.from_regex(r"[a-z]{2,6}", fullmatch=True),
)
def test_every_accepted_address_is_exactly_one_mailbox_in_a_message(atoms, labels, top):
    address = normalize_email(".".join(atoms) + "@" + ".".join([*labels, top]))
    assert plain_address(address).addr_spec == address
    message = compose(sender_address("x <x@example.com>"), address, "s", "b\n")
    (mailbox,) = message["To"].addresses
    assert mailbox.addr_spec == address
