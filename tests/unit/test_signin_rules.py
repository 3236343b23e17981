"""Customer sign-in rules that need no database: the providers' signatures against their published examples,
and which channel accounts a partner may name."""

from __future__ import annotations

from domain.errors import Problem
from domain.i18n import msg
from domain.signin.accounts import channel_accounts
from domain.signin.errors import SignInErrorCode
from runtime.sms import aliyun_signature, tc3_authorization


def test_aliyun_signature_matches_the_published_sendsms_example() -> None:
    """Alibaba Cloud SMS documentation, signature v1 example (AccessKeySecret `testSecret`)."""
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert aliyun_signature("testSecret", "GET", params) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert aliyun_signature("otherSecret", "GET", params) != "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_tc3_signature_matches_the_published_example() -> None:
    """Tencent Cloud API 3.0 signature v3 documentation: DescribeInstances on cvm at 1551113065."""
    payload = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    authorization = tc3_authorization(
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        "cvm",
        "cvm.tencentcloudapi.com",
        payload,
        1551113065,
    )
    assert authorization == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=content-type;host, "
        "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    )


def test_channel_accounts_in_order_of_trust() -> None:
    assert channel_accounts("WECHAT_MINI", None, " oQ8x ", "o6_b") == [
        ("WECHAT_UNIONID", "o6_b"),
        ("WECHAT_OPENID", "oQ8x"),
    ]
    assert channel_accounts("TAOBAO", "AAHk5d", None, None) == [("TAOBAO_OPEN_UID", "AAHk5d")]


def test_channel_accounts_refused_with_the_field_at_fault() -> None:
    none = channel_accounts("DOUYIN", " ", None, None)
    assert none == [
        Problem(
            ("account",),
            msg("give the buyer's buyerId, openid or unionid on the channel"),
            SignInErrorCode.INVALID_ACCOUNT,
        )
    ]
    long = channel_accounts("DOUYIN", "x" * 201, None, None)
    assert [(p.field, p.code) for p in long if isinstance(p, Problem)] == [
        (("account", "buyer_id"), SignInErrorCode.INVALID_ACCOUNT)
    ]
    nul = channel_accounts("WECHAT_MINI", None, "a\x00b", None)
    assert [p.field for p in nul if isinstance(p, Problem)] == [("account", "openid")]
