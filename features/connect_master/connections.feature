@profile_connect_master
Feature: Connect Master: connections, accept filter, disconnection and status (seed 000)
  A master gateway with two device gateways ("gw-a" of "tenant-a", "gw-b" of "tenant-b").
  Terminals on 10.0.0.0/24 belong to gw-a. Reconnect interval 30 s, keep-alive 32 s, all in
  virtual time.

  Background:
    Given "tenant-a" is logged in to the master gateway

  @req:CM-FILTER-001 @req:CM-FILTER-002 @req:CM-STATUS-002 @needs:world-control|declared-devices @realwire
  Scenario: A device outside the accept filter lands in the pending list, then is accepted
    Given "tenant-a" subscribes to the status stream
    And a device-to-server terminal 2001 on "gw-a" at host 21
    When 12 seconds pass
    Then the pending list of "gw-a" for "tenant-a" holds device 2001 with its last try
    When "tenant-a" sets the accept filter of "gw-a" to devices 2001
    Then the call succeeds
    When 15 seconds pass
    Then "tenant-a" sees device 2001 on "gw-a" with status "TCP_CONNECTED"
    And the pending list of "gw-a" for "tenant-a" is empty
    And the status stream of "tenant-a" shows device 2001 "TCP_NOT_ALLOWED" then "TCP_CONNECTED"

  @req:CM-ASYNC-001 @req:CM-ASYNC-003 @req:CM-STATUS-001 @needs:world-control
  Scenario: An async device reconnects after a power cycle, within the reconnect interval
    Given a terminal 1001 on "gw-a" at host 11
    When "tenant-a" subscribes to the status stream
    And "tenant-a" calls AddAsyncConnection on "gw-a" for device 1001 at "10.0.0.11"
    And 2 seconds pass
    Then "tenant-a" sees device 1001 on "gw-a" with status "TCP_CONNECTED"
    And device 1001 shows autoReconnect true on "gw-a" for "tenant-a"
    When terminal 1001 is power-cycled for 5 seconds
    And 100 seconds pass
    Then "tenant-a" sees device 1001 on "gw-a" with status "TCP_CONNECTED"
    And the status stream of "tenant-a" shows device 1001 "TCP_CONNECTED" then "DISCONNECTED" then "TCP_CONNECTED"
    And terminal 1001 never held two connections at once

  @req:CM-DISC-001 @req:CM-SYNC-001 @needs:world-control|declared-devices
  Scenario: A device connected with Connect is dropped for good after Disconnect
    Given a terminal 1002 on "gw-a" at host 12
    When "tenant-a" connects through "gw-a" to "10.0.0.12"
    Then the call succeeds
    And the call returns device 1002
    And device 1002 shows autoReconnect false on "gw-a" for "tenant-a"
    When "tenant-a" disconnects devices 1002
    And 70 seconds pass
    Then "tenant-a" does not see device 1002 on "gw-a"

  @req:CM-DISC-002 @req:CM-ASYNC-002 @needs:world-control|declared-devices
  Scenario: An async device is retried after Disconnect; DeleteAsyncConnection stops that
    Given a terminal 1003 on "gw-a" at host 13
    When "tenant-a" calls AddAsyncConnection on "gw-a" for device 1003 at "10.0.0.13"
    And 2 seconds pass
    And "tenant-a" disconnects devices 1003
    And 1 seconds pass
    Then "tenant-a" sees device 1003 on "gw-a" with status "DISCONNECTED"
    When 35 seconds pass
    Then "tenant-a" sees device 1003 on "gw-a" with status "TCP_CONNECTED"
    When "tenant-a" calls DeleteAsyncConnection on "gw-a" for devices 1003
    And 1 seconds pass
    Then "tenant-a" does not see device 1003 on "gw-a"

  @req:CM-ASYNC-002 @req:CM-STATUS-002 @needs:world-control
  Scenario: DeleteAsyncConnection disconnects a connected device before it forgets it
    Given "tenant-a" subscribes to the status stream
    And a terminal 1005 on "gw-a" at host 15
    When "tenant-a" calls AddAsyncConnection on "gw-a" for device 1005 at "10.0.0.15"
    And 2 seconds pass
    Then "tenant-a" sees device 1005 on "gw-a" with status "TCP_CONNECTED"
    When "tenant-a" calls DeleteAsyncConnection on "gw-a" for devices 1005
    Then the call succeeds
    When 40 seconds pass
    Then "tenant-a" does not see device 1005 on "gw-a"
    And terminal 1005 holds no connection
    And the status stream of "tenant-a" shows device 1005 "TCP_CONNECTED" then "DISCONNECTED"

  @req:CM-FILTER-003 @needs:world-control|declared-devices
  Scenario: A device-to-server device comes back by itself unless removed from the filter
    Given a device-to-server terminal 2002 on "gw-a" at host 22
    When "tenant-a" sets the accept filter of "gw-a" to devices 2002
    And 15 seconds pass
    And "tenant-a" disconnects devices 2002
    And 15 seconds pass
    Then "tenant-a" sees device 2002 on "gw-a" with status "TCP_CONNECTED"
    When "tenant-a" sets the accept filter of "gw-a" to devices 9
    And 30 seconds pass
    Then "tenant-a" does not see device 2002 on "gw-a"
    And the pending list of "gw-a" for "tenant-a" holds device 2002 with its last try

  @req:CM-TENANT-001 @req:CM-AUTH-001 @needs:world-control|declared-devices @needs:second-tenant @realwire
  Scenario: A tenant sees only its own gateways and their status changes
    Given "tenant-b" is logged in to the master gateway
    And a terminal 1004 on "gw-a" at host 14
    When "tenant-b" subscribes to the status stream
    And "tenant-b" calls AddAsyncConnection on "gw-a" for device 1004 at "10.0.0.14"
    Then the call fails with NOT_FOUND
    When "tenant-a" calls AddAsyncConnection on "gw-a" for device 1004 at "10.0.0.14"
    And 2 seconds pass
    Then the status stream of "tenant-b" shows nothing from device 1004

  @req:CM-ERR-001 @realwire
  Scenario: Bad arguments get gRPC status codes with clear messages
    When "tenant-a" connects through "gw-a" to "10.0.0.300"
    Then the call fails with INVALID_ARGUMENT
    When "tenant-a" calls AddAsyncConnection on "gw-x" for device 1 at "10.0.0.1"
    Then the call fails with NOT_FOUND
    When "tenant-a" disconnects devices 424242
    Then the call fails with NOT_FOUND

  @req:CM-ERR-001 @realwire
  Scenario: An over-long gateway ID is answered NOT_FOUND, the value quoted short
    When "tenant-a" reads the device list of a gateway whose ID is 20000 characters long
    Then the call fails with NOT_FOUND
    And the error message is at most 1000 characters long

  @req:CM-ERR-002 @realwire
  Scenario: A list of more than 10000 device IDs is refused, naming the field and the limit
    When "tenant-a" calls Disconnect with 10001 device IDs
    Then the call fails with INVALID_ARGUMENT
    And the error message names the field "deviceIDs" and the limit 10000
    When "tenant-a" calls DeleteAsyncConnectionDB with 10001 device IDs
    Then the call fails with INVALID_ARGUMENT
    And the error message names the field "deviceIDs" and the limit 10000
    When "tenant-a" calls Disconnect with 10000 device IDs
    Then the call fails with NOT_FOUND
