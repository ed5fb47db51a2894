@profile_connect_master
Feature: Connect Master: Login, LoginAdmin, Logout and the status stream's arguments (seed 000)

  @req:CM-AUTH-001 @realwire
  Scenario: A ConnectMaster call without the token from Login is refused
    When "tenant-a" calls GetDeviceList on "gw-a" without a token
    Then the call fails with UNAUTHENTICATED
    When "tenant-a" is logged in to the master gateway
    And "tenant-a" reads the device list of "gw-a"
    Then the call succeeds

  @req:CM-AUTH-002 @needs:admin-login @realwire
  Scenario: The administrator logs in for a tenant; a tenant cannot; a logged-out token is dead
    When the administrator logs in for "tenant-a"
    Then the call succeeds
    When "administrator" reads the device list of "gw-a"
    Then the call succeeds
    When "tenant-a" calls LoginAdmin with its own certificate
    Then the call fails with PERMISSION_DENIED
    When "tenant-a" logs out
    Then the call succeeds
    When "tenant-a" reads the device list of "gw-a"
    Then the call fails with UNAUTHENTICATED

  @req:CM-STATUS-003 @realwire
  Scenario: SubscribeStatus refuses a negative queueSize with a clear message
    Given "tenant-a" is logged in to the master gateway
    When "tenant-a" subscribes to the status stream with queueSize -1
    Then the call fails with INVALID_ARGUMENT

  @req:CM-SEC-001 @needs:second-tenant @realwire
  Scenario: A token works only over the client certificate it was issued over
    Given "tenant-b" is logged in to the master gateway
    When "tenant-a" calls GetDeviceList on "gw-b" with the token of "tenant-b"
    Then the call fails with UNAUTHENTICATED
    And the error message does not quote the token of "tenant-b"
    When "tenant-b" reads the device list of "gw-b"
    Then the call succeeds
