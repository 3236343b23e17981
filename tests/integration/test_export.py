"""The order export: real orders in, the staff download and the CLI out, read back with csv and openpyxl."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlmodel import select

from domain.clock import utcnow
from domain.health.export import HEADERS
from domain.ledger.models import VoucherKind, VoucherStatus
from domain.ledger.service import PaymentNotice, post_notice
from domain.orders.models import Order
from domain.outbox.service import Outbox
from tests.conftest import Api, Credentials
from tests.integration.fulfilment_fixtures import WAREHOUSE, callers, confirmation, paid_order, request_ship
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input

ROOT = Path(__file__).parents[2]
PHONE_FORMS = (b"13812345678", b"138 1234 5678", "13812345678".encode("utf-16-le"))


async def seed(api: Api, creds: Credentials) -> dict[str, Any]:
    """A shipped order with tracking, a paid one with money received and a held outbound, one a month old."""
    who = await callers(api)
    now = utcnow()
    shipped = await paid_order(api, creds, "4102938475610293847")
    await request_ship(api, who, shipped["id"], now - timedelta(hours=3))
    outbound = await api.gql(WAREHOUSE, {"input": confirmation(now - timedelta(hours=2), "DO-1")},
                             headers=creds.wms_only)  # fmt: skip
    assert outbound["data"]["recordWarehouseEvent"]["order"]["status"] == "SHIPPED"
    await paid_order(api, creds, "B-2")
    suspicious = await api.gql(WAREHOUSE, {"input": confirmation(now - timedelta(minutes=50), "DO-2", "B-2")},
                               headers=creds.wms_only)  # fmt: skip
    assert suspicious["data"]["recordWarehouseEvent"]["exceptions"][0]["kind"] == "SUSPICIOUS_OUTBOUND"
    async with api.runtime.core.sessions() as session, session.begin():
        outbox = Outbox()
        notice = PaymentNotice("lianlian", "T-1", VoucherKind.PAYMENT, "B-2", 9590, "CNY", VoucherStatus.CONFIRMED, now)
        await post_notice(session, notice, outbox=outbox)
        await outbox.flush(session)
    old = order_input("C-3", placedAt=(now - timedelta(days=30)).isoformat(), buyer={"phone": "+86 139 0000 1111"})
    assert (await api.gql(SUBMIT_ORDER, {"input": old}, headers=creds.writer))["data"]["submitOrder"][
        "userErrors"
    ] == []
    async with api.runtime.core.sessions() as session:
        orders = {o.channel_order_id: o for o in (await session.exec(select(Order))).all()}
    return orders


def expected_row(
    order: Order, received: int, exceptions: int, open_: int, kinds: str, parcels: str = ""
) -> dict[str, Any]:
    """Written from the stored order, independently of the export's own formatting."""

    def iso(moment: datetime | None) -> str:
        return "" if moment is None else moment.isoformat()

    return {
        "order_id": f"gid://orderhub/Order/{order.id}",
        "order_number": order.channel_order_id,
        "channel": order.channel,
        "status": order.status,
        "placed_at": iso(order.placed_at),
        "paid_at": iso(order.paid_at),
        "ship_requested_at": iso(order.ship_requested_at),
        "outbound_at": iso(order.shipped_at),
        "delivered_at": "",
        "warehouse": order.warehouse_code or "",
        "carrier": order.carrier_code or "",
        "tracking_number": order.tracking_number or "",
        "buyer_uid": order.buyer_uid or "",
        "currency": "CNY",
        "items_minor": "11590",
        "shipping_minor": "0",
        "discount_minor": "2000",
        "total_minor": "9590",
        "total": "95.90",
        "received_minor": str(received),
        "received": f"{received // 100}.{received % 100:02d}",
        "exceptions": str(exceptions),
        "exceptions_open": str(open_),
        "exception_kinds": kinds,
        "parcel_tracking_numbers": parcels,
    }


def expectations(orders: dict[str, Order]) -> list[dict[str, Any]]:
    shipped, held = orders["4102938475610293847"], orders["B-2"]
    assert shipped.shipped_at is not None and shipped.tracking_number == "SF1402938475612"
    return sorted(
        [expected_row(shipped, 0, 0, 0, "", "SF1402938475612"), expected_row(held, 9590, 1, 1, "SUSPICIOUS_OUTBOUND")],
        key=lambda r: (r["placed_at"], r["order_id"]),
    )


def staff_get(api: Api, creds: Credentials, **params: str) -> Any:
    return api.client.get("/export/orders", params=params, headers=creds.admin)


async def test_csv_download_holds_every_order_of_the_week_and_no_phone(api: Api, creds: Credentials) -> None:
    orders = await seed(api, creds)
    response = await staff_get(api, creds, format="csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="orders-' in response.headers["content-disposition"]
    assert "x-orderhub-export-empty" not in response.headers
    data = response.content
    assert data.startswith(b"\xef\xbb\xbf")
    assert not any(form in data for form in PHONE_FORMS)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(rows[0].keys()) == HEADERS
    assert rows == expectations(orders)
    month = await staff_get(api, creds, format="csv", days="31")
    assert next(csv.DictReader(io.StringIO(month.content.decode("utf-8-sig"))))["order_number"] == "C-3"


async def test_xlsx_download_reads_back_in_openpyxl(api: Api, creds: Credentials) -> None:
    orders = await seed(api, creds)
    response = await staff_get(api, creds, format="xlsx", days="7")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    assert workbook.sheetnames == ["orders"]
    header, *body = list(workbook.active.iter_rows(values_only=True))
    assert header == HEADERS
    # empty cells are not written, so read-only openpyxl ends a row at its last value
    padded = [(*row, *[None] * (len(HEADERS) - len(row))) for row in body]
    as_text = [{h: "" if v is None else str(v) for h, v in zip(HEADERS, row, strict=True)} for row in padded]
    assert as_text == expectations(orders)
    assert all(isinstance(row[HEADERS.index("total_minor")], int) for row in padded)  # numbers stay numbers
    assert all(isinstance(row[HEADERS.index("total")], str) for row in padded)  # the decimal stays exact text
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    xml = b"".join(archive.read(name) for name in archive.namelist())
    assert not any(form in xml for form in PHONE_FORMS)


async def test_empty_period_is_a_header_only_file(api: Api, creds: Credentials) -> None:
    await seed(api, creds)
    start, end = "2020-01-01T00:00:00+08:00", "2020-01-08T00:00:00+08:00"
    for fmt in ("csv", "xlsx"):
        response = await staff_get(api, creds, format=fmt, **{"from": start, "to": end})
        assert response.status_code == 200
        assert "only the header row" in response.headers["x-orderhub-export-empty"]
        if fmt == "csv":
            assert response.content.decode("utf-8-sig").splitlines() == [",".join(HEADERS)]
        else:
            rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
            assert rows == [HEADERS]


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"from": "2026-01-08T00:00:00+08:00", "to": "2026-01-01T00:00:00+08:00"}, ["from"], "INVERTED_PERIOD"),
        ({"from": "2024-01-01T00:00:00+08:00", "to": "2026-01-01T00:00:00+08:00"}, ["from"], "PERIOD_TOO_LONG"),
        ({"days": "400"}, ["days"], "OUT_OF_RANGE"),
        ({"days": "a week"}, ["days"], "OUT_OF_RANGE"),
        ({"format": "pdf"}, ["format"], "UNKNOWN_FORMAT"),
        ({"from": "2026-01-01T00:00:00"}, ["from"], "INVALID_TIME"),
        ({"to": "yesterday"}, ["to"], "INVALID_TIME"),
    ],
)
async def test_bad_input_names_the_field(
    api: Api, creds: Credentials, params: dict[str, str], field: list[str], code: str
) -> None:
    response = await staff_get(api, creds, **params)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == (field, code), error


async def test_only_staff_may_download(api: Api, creds: Credentials) -> None:
    anonymous = await api.client.get("/export/orders")
    assert anonymous.status_code == 401 and anonymous.json()["errors"][0]["code"] == "UNAUTHENTICATED"
    forged = await api.client.get("/export/orders", headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 401
    for headers in (creds.reader, creds.writer, creds.customer(api.runtime, "some-uid")):
        refused = await api.client.get("/export/orders", headers=headers)
        assert refused.status_code == 403 and refused.json()["errors"][0]["code"] == "FORBIDDEN"
    assert (await api.client.get("/export/orders", headers=creds.cs)).status_code == 200


async def test_cli_writes_the_same_rows_and_refuses_bad_input(api: Api, creds: Credentials, tmp_path: Path) -> None:
    orders = await seed(api, creds)
    settings = api.runtime.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")} | {
        "ORDERHUB_DATA_DIR": str(tmp_path / "data"),
        "ORDERHUB_DATABASE_URL": settings.resolved_database_url(),
        "ORDERHUB_IDENTITY_KEY": settings.secret("identity_key"),
    }
    target = tmp_path / "week.xlsx"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cli.main", "export", *args], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    done = cli("--days", "7", "--format", "xlsx", "--output", str(target))
    assert done.returncode == 0, done.stderr
    assert "2 orders placed" in done.stderr and not (tmp_path / "week.xlsx.part").exists()
    _, *body = list(openpyxl.load_workbook(target, read_only=True).active.iter_rows(values_only=True))
    assert [r[HEADERS.index("order_number")] for r in body] == [r["order_number"] for r in expectations(orders)]
    empty = cli("--from", "2020-01-01T00:00:00+08:00", "--to", "2020-01-02T00:00:00+08:00", "--output", "-")
    assert empty.returncode == 0 and empty.stdout.lstrip("\ufeff").splitlines() == [",".join(HEADERS)]
    assert "has only the header row" in empty.stderr
    bad = cli("--days", "0", "--format", "pdf")
    assert bad.returncode == 2
    assert "--format: unknown export format 'pdf'" in bad.stderr and "--days: must be between 1" in bad.stderr
    inverted = cli("--from", "2026-01-08T00:00:00+08:00", "--to", "2026-01-01T00:00:00+08:00")
    assert inverted.returncode == 2 and "INVERTED_PERIOD" in inverted.stderr
