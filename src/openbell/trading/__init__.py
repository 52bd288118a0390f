"""Trading: the order-entry API and the order and trade read model.

It talks to the core only through the ports in `application.ports`, with `contracts`
messages; `bootstrap` wires it and `entrypoints.http` serves it.
"""
