"""Steps about Login, LoginAdmin, Logout and calls without the ``token`` metadata."""

from __future__ import annotations

from pytest_bdd import given, parsers, when

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


@when(parsers.parse('"admin" logs in as administrator for "{tenant}"'))
def login_admin(cm: CmState, tenant: str) -> None:
    client = cm.bed.client("admin")
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
        cm.clients["admin"] = client


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
