// Enum codes of orders and exceptions as people read them; the API keeps the codes.
"use strict";

import { t } from "../lib.js";

export function statusName(code) {
  const names = {
    PENDING_PAYMENT: t("Awaiting payment"),
    PAID: t("Paid"),
    SHIP_REQUESTED: t("Ship requested"),
    PICKED: t("Picked"),
    PACKED: t("Packed"),
    PARTIALLY_SHIPPED: t("Partly outbound"),
    SHIPPED: t("Outbound"),
    DELIVERED: t("Delivered"),
    COMPLETED: t("Completed"),
    CANCELLED: t("Cancelled"),
    REFUNDED: t("Refunded"),
    MERGED: t("Merged"),
    VOID: t("Void (superseded)"),
  };
  return names[code] || code || "—";
}

export function exceptionKindName(code) {
  const names = {
    STUCK_AFTER_SHIP_REQUEST: t("Stuck after the ship request"),
    SHIPPED_WITHOUT_TRACKING: t("Outbound without a tracking number"),
    SUSPICIOUS_OUTBOUND: t("Suspicious outbound"),
    UNKNOWN_ORDER: t("Evidence for an unknown order"),
    DUPLICATE_SCAN: t("Duplicate scan"),
    SCAN_BEFORE_REQUEST: t("Scan before the ship request"),
    OUT_OF_ORDER_EVENT: t("Event out of order"),
    EVENT_FOR_CANCELLED_ORDER: t("Event for a cancelled order"),
    CLOCK_SKEW: t("Clock skew"),
    WAREHOUSE_EXCEPTION: t("Warehouse exception"),
    VOUCHER_CONFLICT: t("Voucher conflict"),
    PAYMENT_AMOUNT_MISMATCH: t("Payment amount mismatch"),
    PAYMENT_CURRENCY_MISMATCH: t("Payment currency mismatch"),
    PAYMENT_ON_CLOSED_ORDER: t("Payment on a closed order"),
    UNMATCHED_PAYMENT: t("Unmatched payment"),
    INVOICE_CONFLICT: t("Invoice conflict"),
    SHIPMENT_CONFIRMATION_REFUSED: t("Shipment confirmation refused"),
    SHIPMENT_NOT_CONFIRMED: t("Shipment not confirmed"),
    NO_COURIER_RECORD: t("No courier record"),
  };
  return names[code] || code || "—";
}

/** Every exception kind, in the API's order, for filters. */
export const EXCEPTION_KINDS = [
  "STUCK_AFTER_SHIP_REQUEST", "SHIPPED_WITHOUT_TRACKING", "SUSPICIOUS_OUTBOUND", "UNKNOWN_ORDER", "DUPLICATE_SCAN",
  "SCAN_BEFORE_REQUEST", "OUT_OF_ORDER_EVENT", "EVENT_FOR_CANCELLED_ORDER", "CLOCK_SKEW", "WAREHOUSE_EXCEPTION",
  "VOUCHER_CONFLICT", "PAYMENT_AMOUNT_MISMATCH", "PAYMENT_CURRENCY_MISMATCH", "PAYMENT_ON_CLOSED_ORDER",
  "UNMATCHED_PAYMENT", "INVOICE_CONFLICT", "SHIPMENT_CONFIRMATION_REFUSED", "SHIPMENT_NOT_CONFIRMED",
  "NO_COURIER_RECORD",
];

export function exceptionStateName(code) {
  const names = { OPEN: t("Open"), RESOLVED: t("Resolved") };
  return names[code] || code || "—";
}
