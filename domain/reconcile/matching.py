"""The reconciliation itself: one full outer join between vouchers and statement lines, in SQL.

Set-based so that a million lines reconcile in the database in seconds; the CASE below is the whole
classification, in the order a person would ask the questions.
"""

from __future__ import annotations

from sqlalchemy import bindparam, text

from domain.columns import UtcDateTime

CLASSIFIED = """
WITH s AS (
    SELECT l.id AS line_id, l.provider_txn_id AS txn, l.kind AS kind, l.amount AS amount, l.currency AS currency,
           ROW_NUMBER() OVER (PARTITION BY l.provider_txn_id ORDER BY l.id) AS copy_no
    FROM statement_line l JOIN statement st ON st.id = l.statement_id
    WHERE st.run_id = :run
), v AS (
    SELECT f.id AS voucher_id, f.provider_txn_id AS txn, f.kind AS kind, f.amount AS amount,
           f.currency AS currency, f.status AS status, f.order_ref AS order_ref, f.received_at AS received_at,
           o.cancelled_at AS cancelled_at, 1 AS copy_no
    FROM fund_voucher f LEFT JOIN orders o ON o.id = f.order_id
    WHERE f.provider = :provider AND f.kind IN ('PAYMENT', 'REFUND') AND f.status IN ('CONFIRMED', 'REVERSED')
      AND ((f.provider_time >= :start AND f.provider_time < :end) OR f.provider_txn_id IN (SELECT txn FROM s))
), joined AS (
    SELECT v.voucher_id, s.line_id, COALESCE(v.txn, s.txn) AS txn, v.amount AS system_amount,
           s.amount AS statement_amount, COALESCE(v.currency, s.currency) AS currency,
           CASE
             WHEN v.voucher_id IS NULL AND s.copy_no > 1 THEN 'DUPLICATE_IN_STATEMENT'
             WHEN v.voucher_id IS NULL THEN 'MISSING_IN_SYSTEM'
             WHEN s.line_id IS NULL AND v.status = 'REVERSED' THEN NULL
             WHEN s.line_id IS NULL AND v.order_ref IS NOT NULL AND EXISTS (
                 SELECT 1 FROM v v2 JOIN s s2 ON s2.txn = v2.txn
                 WHERE v2.order_ref = v.order_ref AND v2.kind = v.kind AND v2.amount = v.amount
                   AND v2.voucher_id <> v.voucher_id AND v2.status = 'CONFIRMED'
             ) THEN 'DUPLICATE_NOTIFICATION'
             WHEN s.line_id IS NULL THEN 'MISSING_IN_STATEMENT'
             WHEN s.kind <> v.kind THEN 'STATUS_MISMATCH'
             WHEN s.currency <> v.currency THEN 'CURRENCY_MISMATCH'
             WHEN s.amount <> v.amount THEN 'AMOUNT_MISMATCH'
             WHEN v.received_at >= :end OR (v.cancelled_at IS NOT NULL AND v.cancelled_at < v.received_at)
               THEN 'DELAYED_CALLBACK'
           END AS drift
    FROM v FULL OUTER JOIN s ON s.txn = v.txn AND s.copy_no = v.copy_no
)
"""

INSERT_ITEMS = text(
    CLASSIFIED
    + """
INSERT INTO recon_item (run_id, drift, provider_txn_id, voucher_id, statement_line_id, system_amount,
                        statement_amount, currency)
SELECT :run, drift, txn, voucher_id, line_id, system_amount, statement_amount, currency
FROM joined WHERE drift IS NOT NULL
"""
).bindparams(bindparam("start", type_=UtcDateTime()), bindparam("end", type_=UtcDateTime()))

COUNT_ITEMS = text("SELECT drift, COUNT(*) FROM recon_item WHERE run_id = :run GROUP BY drift")

COUNT_LINES = text(
    "SELECT COUNT(*) FROM statement_line l JOIN statement st ON st.id = l.statement_id WHERE st.run_id = :run"
)
