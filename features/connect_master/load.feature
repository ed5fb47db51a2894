@profile_connect_master
Feature: Connect Master under load: 500 terminals on 2 device gateways (seed 000)
  Known field problems of real gateways: duplicate connections for one device during async
  reconnection, slow recovery after a restart. 250 terminals per device gateway, all managed
  with AddAsyncConnectionDB so that the master pushes them again after the restart.

  @req:CM-LOAD-001 @needs:load @needs:gateway-restart @needs:second-tenant @load
  Scenario: 500 terminals come back after a device gateway restart, no duplicate connections
    Given "tenant-a" is logged in to the master gateway
    And "tenant-b" is logged in to the master gateway
    And "tenant-a" subscribes to the status stream
    And "tenant-b" subscribes to the status stream
    And 250 terminals on "gw-a" from device 10001
    And 250 terminals on "gw-b" from device 20001
    When "tenant-a" adds the terminals of "gw-a" with AddAsyncConnectionDB
    And "tenant-b" adds the terminals of "gw-b" with AddAsyncConnectionDB
    Then all terminals of "gw-a" are connected for "tenant-a" within 30 seconds
    And all terminals of "gw-b" are connected for "tenant-b" within 30 seconds
    When device gateway "gw-a" restarts
    Then every terminal of "gw-a" is connected again for "tenant-a" within 2 reconnect intervals
    And no terminal of "gw-a" ever held two connections at once
    And no terminal of "gw-b" ever held two connections at once
    And the status stream of "tenant-a" holds every status change of "gw-a" in order
    And the status stream of "tenant-b" holds every status change of "gw-b" in order
