@profile_connect_master
Feature: Connect Master: DB settings, connection mode, SSL, search and slaves (seed 000)

  Background:
    Given "tenant-a" is logged in to the master gateway

  @req:CM-DB-001 @req:CM-DB-002 @needs:world-control @needs:gateway-restart
  Scenario: After a device gateway reconnects, DB settings are re-pushed and non-DB ones are gone
    Given a terminal 1101 on "gw-a" at host 31
    And a terminal 1102 on "gw-a" at host 32
    When "tenant-a" calls AddAsyncConnectionDB on "gw-a" for device 1101 at "10.0.0.31"
    And "tenant-a" calls AddAsyncConnection on "gw-a" for device 1102 at "10.0.0.32"
    And 2 seconds pass
    Then "tenant-a" sees device 1102 on "gw-a" with status "TCP_CONNECTED"
    When device gateway "gw-a" restarts
    And 5 seconds pass
    Then "tenant-a" sees device 1101 on "gw-a" with status "TCP_CONNECTED"
    And "tenant-a" does not see device 1102 on "gw-a"

  @req:CM-DB-003 @needs:world-control @needs:master-restart
  Scenario: The master keeps its database across its own restart
    Given a terminal 1103 on "gw-a" at host 33
    When "tenant-a" calls AddAsyncConnectionDB on "gw-a" for device 1103 at "10.0.0.33"
    And the master gateway restarts
    And "tenant-a" is logged in to the master gateway
    And 5 seconds pass
    Then "tenant-a" sees device 1103 on "gw-a" with status "TCP_CONNECTED"

  @req:CM-SSL-001 @req:CM-SSL-002 @needs:world-control|declared-devices
  Scenario: SSL on and off; a useSSL that does not match the terminal fails
    Given a terminal 1201 on "gw-a" at host 41
    And an SSL terminal 1202 on "gw-a" at host 42
    When "tenant-a" calls AddAsyncConnection on "gw-a" for device 1202 at "10.0.0.42" with SSL
    And 2 seconds pass
    Then "tenant-a" sees device 1202 on "gw-a" with status "TLS_CONNECTED"
    When "tenant-a" calls AddAsyncConnection on "gw-a" for device 1201 at "10.0.0.41" with SSL
    And 8 seconds pass
    Then "tenant-a" sees device 1201 on "gw-a" with status "TLS_CANNOT_CONNECT"

  # DisableSSL changes the terminal's own setting, so it runs on placed terminals only.
  @req:CM-SSL-002 @needs:world-control
  Scenario: After DisableSSL an SSL connection to the terminal fails
    Given an SSL terminal 1204 on "gw-a" at host 44
    When "tenant-a" calls AddAsyncConnection on "gw-a" for device 1204 at "10.0.0.44" with SSL
    And 2 seconds pass
    Then "tenant-a" sees device 1204 on "gw-a" with status "TLS_CONNECTED"
    When "tenant-a" calls DisableSSL for devices 1204
    Then the call succeeds
    When 40 seconds pass
    Then "tenant-a" sees device 1204 on "gw-a" with status "TLS_CANNOT_CONNECT"

  @req:CM-SSL-003 @req:CM-MULTI-001 @needs:world-control
  Scenario: EnableSSLMulti reports per-device errors; the plain connection then fails
    Given a terminal 1203 on "gw-a" at host 43
    When "tenant-a" calls AddAsyncConnection on "gw-a" for device 1203 at "10.0.0.43"
    And 2 seconds pass
    And "tenant-a" calls EnableSSLMulti for devices 1203 7777
    Then the call succeeds
    And the Multi reply names device 7777 with NOT_FOUND
    When 40 seconds pass
    Then "tenant-a" sees device 1203 on "gw-a" with status "TCP_CANNOT_CONNECT"

  @req:CM-MODE-001 @needs:world-control
  Scenario: Switching to device-to-server: delete the async connection, add to the filter
    Given a terminal 1301 on "gw-a" at host 51
    When "tenant-a" calls AddAsyncConnection on "gw-a" for device 1301 at "10.0.0.51"
    And 2 seconds pass
    And "tenant-a" sets the connection mode of device 1301 to DEVICE_TO_SERVER
    Then the call succeeds
    When "tenant-a" calls DeleteAsyncConnection on "gw-a" for devices 1301
    And "tenant-a" sets the accept filter of "gw-a" to devices 1301
    And 15 seconds pass
    Then "tenant-a" sees device 1301 on "gw-a" with status "TCP_CONNECTED"

  @req:CM-SEARCH-001 @needs:world-control
  Scenario: SearchDevice finds the terminals on the gateway's subnet within the timeout
    Given a terminal 1401 on "gw-a" at host 61
    And a device-to-server terminal 1402 on "gw-a" at host 62
    And a terminal 1403 on "gw-b" at host 63
    When "tenant-a" searches devices through "gw-a" for 1000 ms
    Then the call succeeds
    And the search finds devices 1401 1402

  @req:CM-SLAVE-001 @req:CM-SLAVE-002 @req:CM-SLAVE-006 @needs:world-control
  @needs:gateway-restart
  Scenario: Slaves: SetSlaveDevice is lost on reconnect, the DB slaves come back
    Given a terminal 1501 on "gw-a" at host 71 with RS485 slaves 5001 5002
    When "tenant-a" calls AddAsyncConnectionDB on "gw-a" for device 1501 at "10.0.0.71"
    And 2 seconds pass
    And "tenant-a" calls SetSlaveDevice on "gw-a" with device 1501 slaves 5001
    Then the call succeeds
    And "tenant-a" reads GetSlaveDevice of "gw-a" with device 1501 slaves 5001
    When "tenant-a" calls AddSlaveDeviceDB on "gw-a" with device 1501 slaves 5002
    And "tenant-a" calls SetSlaveDevice on "gw-a" with device 1501 slaves 9999
    Then the call fails with FAILED_PRECONDITION
    When device gateway "gw-a" restarts
    And 5 seconds pass
    Then "tenant-a" reads GetSlaveDevice of "gw-a" with device 1501 slaves 5002
    And "tenant-a" reads GetSlaveDeviceDB of "gw-a" with device 1501 slaves 5002

  @req:CM-DB-004 @needs:world-control @needs:gateway-restart
  Scenario: DeleteAsyncConnectionDB drops the device now and from every later reconnect
    Given a terminal 1801 on "gw-a" at host 101
    And a terminal 1802 on "gw-a" at host 102
    When "tenant-a" calls AddAsyncConnectionDB on "gw-a" for device 1801 at "10.0.0.101"
    And "tenant-a" calls AddAsyncConnectionDB on "gw-a" for device 1802 at "10.0.0.102"
    And 2 seconds pass
    Then "tenant-a" sees device 1801 on "gw-a" with status "TCP_CONNECTED"
    And "tenant-a" reads GetAsyncConnectionDB of "gw-a" with devices 1801 1802
    When "tenant-a" calls DeleteAsyncConnectionDB on "gw-a" for devices 1801
    Then the call succeeds
    When 1 second passes
    Then "tenant-a" does not see device 1801 on "gw-a"
    And terminal 1801 holds no connection
    And "tenant-a" reads GetAsyncConnectionDB of "gw-a" with devices 1802
    When device gateway "gw-a" restarts
    And 5 seconds pass
    Then "tenant-a" sees device 1802 on "gw-a" with status "TCP_CONNECTED"
    And "tenant-a" does not see device 1801 on "gw-a"
    And terminal 1801 holds no connection
    And "tenant-a" reads GetAsyncConnectionDB of "gw-a" with devices 1802

  @req:CM-FILTER-004 @needs:world-control|declared-devices @realwire
  Scenario: GetAcceptFilter returns the filter SetAcceptFilter last set
    Given a device-to-server terminal 2101 on "gw-a" at host 111
    When "tenant-a" sets the accept filter of "gw-a" to devices 2101 9
    Then the call succeeds
    And "tenant-a" reads GetAcceptFilter of "gw-a" with devices 2101 9
    When "tenant-a" sets the accept filter of "gw-a" to devices 9
    Then "tenant-a" reads GetAcceptFilter of "gw-a" with devices 9

  @req:CM-FILTER-004 @req:CM-FILTER-005 @req:CM-FILTER-006 @needs:world-control
  @needs:gateway-restart
  Scenario: The DB accept filter is configured again after a reconnect, the other one is lost
    Given a device-to-server terminal 2201 on "gw-a" at host 121
    And a device-to-server terminal 2202 on "gw-a" at host 122
    When "tenant-a" sets the accept filter DB of "gw-a" to devices 2201
    Then the call succeeds
    And "tenant-a" reads GetAcceptFilterDB of "gw-a" with devices 2201
    And "tenant-a" reads GetAcceptFilter of "gw-a" with devices 2201
    When 15 seconds pass
    Then "tenant-a" sees device 2201 on "gw-a" with status "TCP_CONNECTED"
    When "tenant-a" sets the accept filter of "gw-a" to devices 2201 2202
    And 15 seconds pass
    Then "tenant-a" sees device 2202 on "gw-a" with status "TCP_CONNECTED"
    And "tenant-a" reads GetAcceptFilter of "gw-a" with devices 2201 2202
    And "tenant-a" reads GetAcceptFilterDB of "gw-a" with devices 2201
    When device gateway "gw-a" restarts
    And 20 seconds pass
    Then "tenant-a" sees device 2201 on "gw-a" with status "TCP_CONNECTED"
    And "tenant-a" does not see device 2202 on "gw-a"
    And the pending list of "gw-a" for "tenant-a" holds device 2202 with its last try
    And "tenant-a" reads GetAcceptFilter of "gw-a" with devices 2201
    And "tenant-a" reads GetAcceptFilterDB of "gw-a" with devices 2201

  @req:CM-SSL-004 @req:CM-MULTI-001 @needs:world-control
  Scenario: DisableSSLMulti names the unknown device and makes the others' connections plain
    Given an SSL terminal 2301 on "gw-a" at host 131
    And an SSL terminal 2302 on "gw-a" at host 132
    When "tenant-a" calls AddAsyncConnection on "gw-a" for device 2301 at "10.0.0.131" with SSL
    And "tenant-a" calls AddAsyncConnection on "gw-a" for device 2302 at "10.0.0.132" with SSL
    And 2 seconds pass
    Then "tenant-a" sees device 2301 on "gw-a" with status "TLS_CONNECTED"
    And "tenant-a" sees device 2302 on "gw-a" with status "TLS_CONNECTED"
    When "tenant-a" calls DisableSSLMulti for devices 2301 2302 6666
    Then the call succeeds
    And the Multi reply names device 6666 with NOT_FOUND
    And the Multi reply names no error for device 2301
    And the Multi reply names no error for device 2302
    And terminal 2301 has SSL off
    And terminal 2302 has SSL off
    When 40 seconds pass
    Then "tenant-a" sees device 2301 on "gw-a" with status "TLS_CANNOT_CONNECT"
    When "tenant-a" calls AddAsyncConnection on "gw-a" for device 2301 at "10.0.0.131"
    And "tenant-a" calls AddAsyncConnection on "gw-a" for device 2302 at "10.0.0.132"
    And 2 seconds pass
    Then "tenant-a" sees device 2301 on "gw-a" with status "TCP_CONNECTED"
    And "tenant-a" sees device 2302 on "gw-a" with status "TCP_CONNECTED"
    And device 2301 shows useSSL false on "gw-a" for "tenant-a"

  @req:CM-SLAVE-005 @req:CM-SLAVE-006 @needs:world-control @needs:gateway-restart
  Scenario: DeleteSlaveDeviceDB removes the stored slaves; the reconnect assigns none
    Given a terminal 2401 on "gw-a" at host 141 with RS485 slaves 5101 5102
    When "tenant-a" calls AddAsyncConnectionDB on "gw-a" for device 2401 at "10.0.0.141"
    And 2 seconds pass
    And "tenant-a" calls AddSlaveDeviceDB on "gw-a" with device 2401 slaves 5101 5102
    Then the call succeeds
    And "tenant-a" reads GetSlaveDeviceDB of "gw-a" with device 2401 slaves 5101 5102
    And "tenant-a" reads GetSlaveDevice of "gw-a" with device 2401 slaves 5101 5102
    When "tenant-a" calls DeleteSlaveDeviceDB on "gw-a" for devices 2401
    Then the call succeeds
    And "tenant-a" reads GetSlaveDeviceDB of "gw-a" with no slaves
    When device gateway "gw-a" restarts
    And 5 seconds pass
    Then "tenant-a" sees device 2401 on "gw-a" with status "TCP_CONNECTED"
    And "tenant-a" reads GetSlaveDevice of "gw-a" with no slaves
    And "tenant-a" reads GetSlaveDeviceDB of "gw-a" with no slaves
