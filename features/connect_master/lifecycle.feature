@profile_connect_master
Feature: Connect Master: DisconnectAll, connection-mode switches and dead links (seed 000)

  Background:
    Given "tenant-a" is logged in to the master gateway

  @req:CM-DISC-003 @needs:world-control|declared-devices
  Scenario: DisconnectAll succeeds; the Connect device is dropped, the async one is retried
    Given a terminal 1601 on "gw-a" at host 81
    And a terminal 1602 on "gw-a" at host 82
    When "tenant-a" connects through "gw-a" to "10.0.0.81"
    And "tenant-a" calls AddAsyncConnection on "gw-a" for device 1602 at "10.0.0.82"
    And 2 seconds pass
    And "tenant-a" disconnects all devices of "gw-a"
    Then the call succeeds
    When 1 seconds pass
    Then "tenant-a" does not see device 1601 on "gw-a"
    And "tenant-a" sees device 1602 on "gw-a" with status "DISCONNECTED"
    When 35 seconds pass
    Then "tenant-a" sees device 1602 on "gw-a" with status "TCP_CONNECTED"
    And "tenant-a" does not see device 1601 on "gw-a"

  @req:CM-MODE-002 @req:CM-MULTI-001 @needs:world-control
  Scenario: SetConnectionModeMulti switches two devices and names the unknown one
    Given a terminal 1302 on "gw-a" at host 52
    And a terminal 1303 on "gw-a" at host 53
    When "tenant-a" calls AddAsyncConnection on "gw-a" for device 1302 at "10.0.0.52"
    And "tenant-a" calls AddAsyncConnection on "gw-a" for device 1303 at "10.0.0.53"
    And 2 seconds pass
    And "tenant-a" calls SetConnectionModeMulti for devices 1302 1303 8888 with DEVICE_TO_SERVER
    Then the call succeeds
    And the Multi reply names device 8888 with NOT_FOUND
    And the Multi reply names no error for device 1302
    And the Multi reply names no error for device 1303
    When "tenant-a" calls DeleteAsyncConnection on "gw-a" for devices 1302 1303
    And "tenant-a" sets the accept filter of "gw-a" to devices 1302 1303
    And 15 seconds pass
    Then "tenant-a" sees device 1302 on "gw-a" with status "TCP_CONNECTED"
    And "tenant-a" sees device 1303 on "gw-a" with status "TCP_CONNECTED"
    And device 1303 shows connection mode DEVICE_TO_SERVER on "gw-a" for "tenant-a"

  @req:CM-MODE-003 @needs:world-control
  Scenario: Switching back to server-to-device: remove from the filter, then connect
    Given a device-to-server terminal 1304 on "gw-a" at host 54
    When "tenant-a" sets the accept filter of "gw-a" to devices 1304
    And 15 seconds pass
    Then "tenant-a" sees device 1304 on "gw-a" with status "TCP_CONNECTED"
    When "tenant-a" sets the connection mode of device 1304 to SERVER_TO_DEVICE
    Then the call succeeds
    When "tenant-a" sets the accept filter of "gw-a" to devices 9
    And "tenant-a" calls AddAsyncConnection on "gw-a" for device 1304 at "10.0.0.54"
    And 2 seconds pass
    Then "tenant-a" sees device 1304 on "gw-a" with status "TCP_CONNECTED"
    And device 1304 shows connection mode SERVER_TO_DEVICE on "gw-a" for "tenant-a"
    And device 1304 shows autoReconnect true on "gw-a" for "tenant-a"

  @req:CM-KEEPALIVE-001 @needs:world-control
  Scenario: An unplugged terminal is found dead by the keep-alive and comes back when replugged
    Given "tenant-a" subscribes to the status stream
    And a terminal 1701 on "gw-a" at host 91
    When "tenant-a" calls AddAsyncConnection on "gw-a" for device 1701 at "10.0.0.91"
    And 2 seconds pass
    And terminal 1701 is unplugged
    And 100 seconds pass
    Then "tenant-a" learns from the status stream that device 1701 was found dead within 96 seconds of the unplugging
    When terminal 1701 is plugged in again
    And 70 seconds pass
    Then "tenant-a" sees device 1701 on "gw-a" with status "TCP_CONNECTED"
