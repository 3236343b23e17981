"""The reconciliation itself: one full outer join between vouchers and statement lines, in SQL.

Set-based so that a million lines reconcile in the database in seconds; hashing, and one sort of a narrow
projection. `joined` is the one full outer join, carrying only what the later steps read (a matched pair's
difference is worked out there and then). A line repeated in the statement shows as a voucher joined twice
(or, without a voucher, as a transaction id seen twice): `copies` numbers the lines of each voucher (or id)
and keeps all but the first. `doubled` finds, among the few vouchers left without a line, those whose order
already has a matched voucher of the same amount (the provider notified one payment twice under two ids).
The CASE is the whole classification, in the order a person would ask the questions.

The lines come from `STORED_LINES` (a run's statements) or from a statement file being imported, in DuckDB (see
`domain.reconcile.bulk`): anything yielding line_id, txn, kind, amount and currency; the vouchers from the period's
in PostgreSQL or from their export, with the names `voucher_columns` gives.
"""

from __future__ import annotations

from sqlalchemy import bindparam, text

from domain.columns import UtcDateTime

STORED_LINES = """
    SELECT l.id AS line_id, l.provider_txn_id AS txn, l.kind AS kind, l.amount AS amount, l.currency AS currency
    FROM statement_line l JOIN statement st ON st.id = l.statement_id
    WHERE st.run_id = :run
"""


RECONCILED_VOUCHER = "f.kind IN ('PAYMENT', 'REFUND') AND f.status IN ('CONFIRMED', 'REVERSED')"
"""Settled payments and refunds: the vouchers a statement is reconciled against."""


def voucher_columns(end: str) -> str:
    """What the classification reads of a voucher (`FROM fund_voucher f LEFT JOIN orders o ON o.id = f.order_id`),
    `end` being the period's end as a parameter: `late` says its callback came after the period or after its order
    was cancelled; only `reconciled` ones (settled payments and refunds) take part, the others lend a line their
    order only."""
    return f"""
    f.id AS voucher_id, f.provider_txn_id AS txn, f.kind AS kind, f.amount AS amount, f.currency AS currency,
    f.status AS status, f.order_ref AS order_ref, f.order_id AS order_id,
    (f.received_at >= {end} OR (o.cancelled_at IS NOT NULL AND o.cancelled_at < f.received_at)) AS late,
    ({RECONCILED_VOUCHER}) AS reconciled
"""


_VOUCHERS = f"""
    SELECT {voucher_columns(":end")} FROM fund_voucher f LEFT JOIN orders o ON o.id = f.order_id
    WHERE f.provider = :provider AND {RECONCILED_VOUCHER}
      AND ((f.provider_time >= :start AND f.provider_time < :end) OR f.provider_txn_id IN (SELECT txn FROM s))
"""

_CLASSIFIED = """
WITH s AS NOT MATERIALIZED ({lines}), v AS ({vouchers}), joined AS MATERIALIZED (
    SELECT v.voucher_id, s.line_id, COALESCE(v.txn, s.txn) AS txn, v.kind AS system_kind,
           v.amount AS system_amount, s.amount AS statement_amount,
           COALESCE(v.currency, s.currency) AS currency, v.status, v.order_ref, CASE
             WHEN s.kind <> v.kind THEN 'STATUS_MISMATCH'
             WHEN s.currency <> v.currency THEN 'CURRENCY_MISMATCH'
             WHEN s.amount <> v.amount THEN 'AMOUNT_MISMATCH'
             WHEN v.late THEN 'DELAYED_CALLBACK'
           END AS difference
    FROM v FULL OUTER JOIN s ON s.txn = v.txn
), copies AS MATERIALIZED (
    SELECT line_id FROM (
        SELECT line_id, row_number() OVER (
                   PARTITION BY voucher_id, CASE WHEN voucher_id IS NULL THEN txn END ORDER BY line_id) AS nth
        FROM joined WHERE line_id IS NOT NULL
    ) numbered WHERE nth > 1
), doubled AS MATERIALIZED (
    SELECT DISTINCT u.voucher_id
    FROM joined u JOIN joined m
      ON m.order_ref = u.order_ref AND m.system_kind = u.system_kind AND m.system_amount = u.system_amount
    WHERE u.line_id IS NULL AND u.voucher_id IS NOT NULL AND u.order_ref IS NOT NULL AND u.status = 'CONFIRMED'
      AND m.line_id IS NOT NULL AND m.status = 'CONFIRMED' AND m.voucher_id <> u.voucher_id
), classified AS (
    SELECT j.*, CASE
             WHEN j.line_id IN (SELECT line_id FROM copies) THEN 'DUPLICATE_IN_STATEMENT'
             WHEN j.voucher_id IS NULL THEN 'MISSING_IN_SYSTEM'
             WHEN j.line_id IS NULL AND j.status = 'REVERSED' THEN NULL
             WHEN j.line_id IS NULL AND j.voucher_id IN (SELECT voucher_id FROM doubled) THEN 'DUPLICATE_NOTIFICATION'
             WHEN j.line_id IS NULL THEN 'MISSING_IN_STATEMENT'
             ELSE j.difference
           END AS drift
    FROM joined j
)
"""

_DATES = (bindparam("start", type_=UtcDateTime()), bindparam("end", type_=UtcDateTime()))


_ITEMS = """
SELECT drift, txn, voucher_id, line_id, system_amount, statement_amount, currency
FROM classified WHERE drift IS NOT NULL
"""


def classified_items(lines: str, vouchers: str) -> str:
    """The to-check items of `lines` (a SELECT, see the module's docstring) against `vouchers` (a SELECT of
    `voucher_columns`' names), as rows ready for recon_item: plain SQL that DuckDB runs as well as PostgreSQL."""
    return _CLASSIFIED.replace("{lines}", lines).replace("{vouchers}", vouchers) + _ITEMS


INSERT_ITEMS = text(
    "INSERT INTO recon_item (run_id, drift, provider_txn_id, voucher_id, statement_line_id, system_amount, "
    "statement_amount, currency)"
    + _CLASSIFIED.replace("{lines}", STORED_LINES).replace("{vouchers}", _VOUCHERS)
    + """
SELECT :run, drift, txn, voucher_id, line_id, system_amount, statement_amount, currency
FROM classified WHERE drift IS NOT NULL
"""
).bindparams(*_DATES)

LINK_ORDERS = text(
    """UPDATE statement_line SET order_id = f.order_id
FROM statement st, fund_voucher f
WHERE statement_line.statement_id = st.id AND st.run_id = :run AND f.provider = st.provider
  AND f.provider_txn_id = statement_line.provider_txn_id AND f.kind = statement_line.kind
  AND f.order_id IS NOT NULL"""
)
"""Each line of a run gets the order of the voucher with its transaction id and kind (matched or not: a line
that differs in amount still belongs to that order), for health per channel and warehouse."""

COUNT_ITEMS = text("SELECT drift, COUNT(*) FROM recon_item WHERE run_id = :run GROUP BY drift")

COUNT_LINES = text(
    "SELECT COUNT(*) FROM statement_line l JOIN statement st ON st.id = l.statement_id WHERE st.run_id = :run"
)

# A run is one big join: let it sort in memory, and skip JIT compilation, which costs more than it saves here.
TUNE_POSTGRESQL = ("SET LOCAL work_mem = '256MB'", "SET LOCAL jit = off")
