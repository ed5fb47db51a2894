"""Steps about Login, LoginAdmin, Logout and calls without the ``token`` metadata."""

from __future__ import annotations

from pytest_bdd import given, parsers, then, when

from conformance.evidence import expect
from devices.gateways.connect_master.master import ADMIN
from devices.gateways.connect_master.protos import login_pb2
from features.connect_master.steps.state import CmState, logged_in_client, outcome


@given(parsers.parse('"{tenant}" is logged in to the master gateway'))
@when(parsers.parse('"{tenant}" is logged in to the master gateway'))
def logged_in(cm: CmState, tenant: str) -> None:
    logged_in_client(cm, tenant)


@when(parsers.parse('"{tenant}" calls GetDeviceList on "{gw}" without a token'))
def no_token(cm: CmState, tenant: str, gw: str) -> None:
    client = cm.bed.client(tenant)  # never logged in: no 'token' metadata
    outcome(cm, client.call("GetDeviceList", gatewayID=cm.bed.gateway(gw)))


@when(parsers.parse('"{tenant}" calls GetDeviceList on "{gw}" with the token of "{other}"'))
def borrowed_token(cm: CmState, tenant: str, gw: str, other: str) -> None:
    """``other``'s genuine token sent over ``tenant``'s own client certificate."""
    client = cm.bed.client(tenant)
    client.token = logged_in_client(cm, other).token
    outcome(cm, client.call("GetDeviceList", gatewayID=cm.bed.gateway(gw)))


@when(parsers.parse('the administrator logs in for "{tenant}"'))
def login_admin(cm: CmState, tenant: str) -> None:
    """LoginAdmin over the administrator's certificate; the scenario calls that client
    ``"administrator"``."""
    client = cm.bed.client(ADMIN)
    reply = outcome(
        cm,
        client.login_stub.LoginAdmin(
            login_pb2.LoginAdminRequest(
                adminTenantCert=client.credential.cert_pem.decode(), tenantID=cm.bed.tenant(tenant)
            )
        ),
    )
    if reply is not None:
        client.token = reply.jwtToken
        cm.clients[ADMIN] = client


@when(parsers.parse('"{tenant}" calls LoginAdmin with its own certificate'))
def login_admin_as_tenant(cm: CmState, tenant: str) -> None:
    client = logged_in_client(cm, tenant)
    outcome(
        cm,
        client.login_stub.LoginAdmin(
            login_pb2.LoginAdminRequest(
                adminTenantCert=client.credential.cert_pem.decode(), tenantID=cm.bed.tenant(tenant)
            )
        ),
    )


@when(parsers.parse('"{tenant}" logs out'))
def logout(cm: CmState, tenant: str) -> None:
    client = logged_in_client(cm, tenant)
    outcome(cm, client.login_stub.Logout(login_pb2.LogoutRequest(), metadata=client.metadata()))


@then(parsers.parse('the error message does not quote the token of "{tenant}"'))
def token_not_quoted(cm: CmState, tenant: str) -> None:
    details = cm.last_error.details() if cm.last_error is not None else ""
    token = logged_in_client(cm, tenant).token
    expect(
        bool(token) and token not in details,
        "a message that names the problem without the token",
        "the token, echoed" if token and token in details else "no token to compare",
        "a refusal that echoes a token hands it to whoever reads logs",
    )
