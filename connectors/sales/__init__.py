"""The sales system: an order-management REST API (accounts, orders, order lines, opportunities),
its Singer tap and a local stand-in of the API for the demo and the tests."""
