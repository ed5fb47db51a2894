@profile_ble_router
Feature: Connecting and disconnecting devices (POST/DELETE /gap/nodes/<node>/connection)
  Connect parameters travel as a JSON body, as in the seed's example
  ('{"timeout":"10000","type":"public"}'): type public|random (default public), timeout
  200..20000 ms (default 5000), mtu 0 or 23..498. Success is 200 "OK", failure 500.

  @req:BLE-CONN-001 @req:BLE-CONN-006 @req:BLE-CONN-007 @needs:connect @needs:world-control
  Scenario: Connect, list and disconnect a device
    Given a peripheral "HR-1" at 2 m
    When the client connects to "HR-1"
    Then the connection succeeds
    And the connected-device list describes "HR-1" as documented
    And "HR-1" holds a link to the router, by its own account
    When the client disconnects "HR-1"
    Then the disconnection succeeds
    And the connected-device list does not contain "HR-1"
    And "HR-1" holds no link any more, by its own account

  @req:BLE-CST-001 @req:BLE-CST-002 @needs:connection-state @needs:world-control @realwire
  Scenario: The connection-state stream reports connected and disconnected
    Given a peripheral "HR-1" at 2 m
    When a client opens the connection-state stream
    And the client connects to "HR-1"
    Then the connection succeeds
    And the connection-state stream shows "HR-1" "connected" within 2 seconds
    When the client disconnects "HR-1"
    Then the connection-state stream shows "HR-1" "disconnected" within 2 seconds
    And the connection-state stream has shown "HR-1" "connected" 1 times

  @req:BLE-CONN-002 @needs:connect @needs:world-control
  Scenario: A device with a public address connects without naming the address type
    Given a peripheral "HR-P" with a public address at 2 m
    When the client connects to "HR-P" without giving the address type
    Then the connection succeeds
    And the connected-device list describes "HR-P" as documented

  @req:BLE-CONN-002 @needs:connect @needs:world-control
  Scenario: A device with a random address is reached with type=random, not as a public one
    Given a peripheral "HR-1" at 2 m
    When the client connects to "HR-1" with "type=public&timeout=1000"
    Then the response status is 500
    And the connected-device list does not contain "HR-1"
    When the client connects to "HR-1" with "type=random"
    Then the connection succeeds
    And the connected-device list describes "HR-1" as documented

  @req:BLE-CONN-003 @needs:connect
  Scenario: Connecting to a device that is not there fails with 500 once its timeout is over
    When the client connects to the address "F0:00:00:00:0A:0A" with "type=random&timeout=1000"
    Then the response status is 500
    And the attempt lasted between 0.9 and 2 seconds

  @req:BLE-CONN-003 @needs:connect @needs:world-control
  Scenario: Connecting to a device out of range fails with 500 once its timeout is over
    Given a peripheral "HR-1" at 500 m
    When the client connects to "HR-1" with "timeout=2000"
    Then the response status is 500
    And the attempt lasted between 1.9 and 3 seconds
    And the connected-device list does not contain "HR-1"

  @req:BLE-CONN-009 @needs:connect
  Scenario: Without a timeout parameter a connect attempt lasts the default 5 seconds
    When the client connects to the address "F0:00:00:00:0A:0B" with "type=random"
    Then the response status is 500
    And the attempt lasted between 4.9 and 6 seconds

  @req:BLE-CONN-004 @needs:connect @needs:world-control
  Scenario Outline: A timeout that is not a whole number is refused as bad input
    Given a peripheral "HR-1" at 2 m
    When the client connects to "HR-1" with "timeout=<value>"
    Then the request is refused as bad input mentioning "timeout"
    And the connected-device list does not contain "HR-1"

    Examples:
      | value |
      | soon  |
      | 5e3   |

  @req:BLE-CONN-004 @needs:connect @needs:world-control
  Scenario Outline: A timeout outside 200..20000 ms is taken as the nearest end of the range
    Given a peripheral "HR-1" at 2 m
    When the client connects to "HR-1" with "timeout=<value>"
    Then the request is not refused as bad input

    Examples:
      | value |
      | 199   |
      | 20001 |
      | 60000 |

  @req:BLE-CONN-005 @needs:connect @needs:world-control
  Scenario Outline: An mtu other than 0 or 23..498 is refused as bad input
    Given a peripheral "HR-1" at 2 m
    When the client connects to "HR-1" with "mtu=<value>"
    Then the response status is 400 and the message mentions "mtu"
    And the connected-device list does not contain "HR-1"

    Examples:
      | value |
      | 22    |
      | 499   |

  @req:BLE-CONN-011 @needs:connect @needs:world-control
  Scenario: An address type other than public or random is refused as bad input
    Given a peripheral "HR-1" at 2 m
    When the client connects to "HR-1" with "type=static"
    Then the request is refused as bad input mentioning "static"
    And the connected-device list does not contain "HR-1"

  @req:BLE-CONN-004 @needs:connect @needs:world-control
  Scenario: The longest timeout, 20000 ms, is a valid value
    Given a peripheral "HR-1" at 2 m
    When the client connects to "HR-1" with "timeout=20000"
    Then the connection succeeds

  @req:BLE-CONN-005 @needs:connect @needs:world-control
  Scenario Outline: An mtu of 0 or 23..498 is accepted
    Given a peripheral "HR-1" at 2 m
    When the client connects to "HR-1" with "mtu=<value>"
    Then the connection succeeds
    And the connected-device list contains "HR-1"

    Examples:
      | value |
      | 0     |
      | 23    |
      | 498   |

  @req:BLE-CONN-004 @needs:connect @needs:world-control
  Scenario: The shortest timeout, 200 ms, is a valid value
    Given a peripheral "HR-1" at 2 m with:
      | advertising interval | 50 ms |
    When the client connects to "HR-1" with "timeout=200"
    Then the request is not refused as bad input

  @req:BLE-CONN-008 @needs:connect @needs:world-control
  Scenario: Overlapping connect requests are handled one at a time
    Given a peripheral "HR-1" at 2 m
    And a peripheral "HR-2" at 3 m
    When the client connects to "HR-1" and "HR-2" at the same time
    Then the first connect succeeds and the second is answered with 200 or 500
    And the connected-device list agrees with the connect answers

  @req:BLE-RSSI-001 @needs:rssi @needs:world-control
  Scenario: The RSSI of a connection is reported, and weakens as the device walks away
    Given a peripheral "HR-1" at 1 m
    And "HR-1" is connected
    When the client sends "GET /gap/nodes/${HR-1}/rssi"
    Then the response status is 200
    And the answer reports the RSSI of "HR-1" between -55 and -25 dBm
    When "HR-1" moves to 20 m
    And the client sends "GET /gap/nodes/${HR-1}/rssi"
    Then the answer reports the RSSI of "HR-1" between -85 and -55 dBm
    When the client sends "GET /gap/nodes/F0:00:00:00:0F:0F/rssi"
    Then the response status is 500 and the message mentions "F0:00:00:00:0F:0F"
