@profile_connect_master
Feature: Connect Master on the wire: exact method paths and field numbers (facts sheet)
  A client built from the facts sheet alone, not from our .proto files, encodes its request by
  hand, calls the method by its full path and decodes the answer by hand. A master whose
  package, service, rpc name or field numbers differ from the sheet fails here.

  Background:
    Given "tenant-a" is logged in to the master gateway

  @req:CM-WIRE-001 @needs:world-control @realwire
  Scenario: GetDeviceList by its full path, request and answer encoded as the facts sheet says
    Given a terminal 1001 on "gw-a" at host 11
    When "tenant-a" calls AddAsyncConnection on "gw-a" for device 1001 at "10.0.0.11"
    And 2 seconds pass
    And "tenant-a" calls "/gsdk.connect_master.ConnectMaster/GetDeviceList" with gatewayID "gw-a" encoded by hand
    Then the raw answer lists device 1001 in field 1, with its deviceID in field 1, its IPAddr in field 3 and status "TCP_CONNECTED" in field 5

  @req:CM-SEC-002 @realwire
  Scenario: Request bytes that do not decode are answered INVALID_ARGUMENT, naming the message
    When "tenant-a" calls "/gsdk.connect_master.ConnectMaster/GetDeviceList" with undecodable bytes
    Then the call fails with INVALID_ARGUMENT
    And the error message names "GetDeviceListRequest"
    When "tenant-a" calls "/gsdk.connect_master.ConnectMaster/DeleteAsyncConnectionDB" with undecodable bytes
    Then the call fails with INVALID_ARGUMENT
    When "tenant-a" reads the device list of "gw-a"
    Then the call succeeds
