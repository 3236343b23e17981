"""The group-chat notice about a webhook endpoint switched off is written in the language of the work at hand:
the merchant's, when the notice job runs it (see workers/observed.py)."""

from __future__ import annotations

from domain.access.service import issue_partner_key
from domain.clock import utcnow
from domain.i18n import use_language
from domain.webhooks.endpoints import disabled_notice
from domain.webhooks.models import EndpointState, WebhookEndpoint
from runtime.process import Runtime


async def test_the_disabled_endpoint_notice_in_both_languages(rt: Runtime) -> None:
    async with rt.core.sessions() as session, session.begin():
        issued = await issue_partner_key(session, "erp-hooks", ["orders:read"])
        endpoint = WebhookEndpoint(
            partner_key_id=issued.id, url="https://erp.example/hook", event_types=["order.paid"], secret_sealed=b"x",
            state=EndpointState.DISABLED.value, disabled_reason="12 attempts in a row failed", created_at=utcnow(),
            created_by="test",
        )  # fmt: skip
        session.add(endpoint)
        await session.flush()
        endpoint_id = endpoint.id
    assert endpoint_id is not None
    async with rt.core.sessions() as session:
        with use_language("zh-CN"):
            zh = await disabled_notice(session, endpoint_id)
        with use_language("en"):
            en = await disabled_notice(session, endpoint_id)
    assert zh is not None and en is not None
    assert zh[0] == "orderhub：erp-hooks 的 Webhook 端点已停用"
    assert "- 地址：https://erp.example/hook" in zh[1] and "- 原因：12 attempts in a row failed" in zh[1]
    assert en[0] == "orderhub: webhook endpoint of erp-hooks disabled"
    assert "- url: https://erp.example/hook" in en[1]
