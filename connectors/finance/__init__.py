"""The finance system: a SQL ledger (customers, invoices, payments, credit notes) and its Singer tap."""
