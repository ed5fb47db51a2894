@profile_ble_router
Feature: Connect parameters mtu, discovergatt, auto and chip (POST /gap/nodes/<node>/connection)
  mtu 0 means an ATT MTU exchange with 247, 23..498 that value; the device answers with its own
  maximum and notifications carry up to MTU - 3 bytes. discovergatt=1 (default) serves the GATT
  database cached from an earlier connection, 0 reads it from the device again. auto is
  accepted but disabled since firmware 1.4.3. chip picks the chip; each chip holds at most its
  chipinfo "max" connections.

  @req:BLE-CONN-023 @needs:connect @needs:notify @needs:world-control
  Scenario Outline: The mtu is exchanged with the device and long notifications arrive whole
    Given a peripheral "LONG" at 2 m notifying a 100-byte value
    When a client opens the notification stream
    And the client connects to "LONG" with "mtu=<mtu>"
    Then the connection succeeds
    When the client enables notifications of "2A37" on "LONG"
    Then the notification stream receives at least 2 notifications from "LONG" on "2A37" within 3 seconds
    And every notification from "LONG" on "2A37" carries <bytes> bytes

    Examples:
      | mtu | bytes |
      | 0   | 100   |
      | 23  | 20    |
      | 60  | 57    |
      | 498 | 100   |

  @req:BLE-CONN-020 @needs:connect @needs:gatt @needs:world-control
  Scenario: discovergatt=1 serves the cached database, discovergatt=0 reads the device again
    Given a peripheral "HR-1" at 2 m
    And "HR-1" is connected
    When the client discovers the services of "HR-1"
    Then the answer lists the service "180F"
    When the client disconnects "HR-1"
    And "HR-1" is replaced by a device at the same address without the service "180F"
    And the client connects to "HR-1" with "discovergatt=1"
    Then the connection succeeds
    When the client discovers the services of "HR-1"
    Then the answer lists the service "180F"
    And the router discovered the GATT database of "HR-1" over the air 1 times
    When the client disconnects "HR-1"
    And the client connects to "HR-1" with "discovergatt=0"
    Then the connection succeeds
    When the client discovers the services of "HR-1"
    Then the answer does not list the service "180F"
    And the router discovered the GATT database of "HR-1" over the air 2 times

  @req:BLE-CONN-021 @needs:connect @needs:connection-state @needs:world-control
  Scenario: auto=1 is accepted, and the router does not reconnect by itself (since 1.4.3)
    Given a peripheral "HR-1" at 2 m
    When a client opens the connection-state stream
    And the client connects to "HR-1" with "auto=1"
    Then the connection succeeds
    When "HR-1" moves to 500 m
    Then the connection-state stream shows "HR-1" "disconnected" within 3 seconds
    When "HR-1" moves to 2 m
    And 5 seconds pass
    Then the connected-device list does not contain "HR-1"

  @req:BLE-CONN-021 @needs:connect @needs:world-control
  Scenario: auto accepts only 0 or 1
    Given a peripheral "HR-1" at 2 m
    When the client connects to "HR-1" with "auto=2"
    Then the request is refused as bad input mentioning "auto"

  @req:BLE-CONN-022 @needs:connect @needs:world-control
  Scenario: chip selects the chip that connects, a chip the router lacks is refused
    Given a peripheral "HR-1" at 2 m
    And a peripheral "HR-2" at 3 m
    When the client connects to "HR-1" with "chip=1"
    Then the connection succeeds
    And the connected-device list shows "HR-1" on chip 1
    When the client connects to "HR-2" with "chip=0"
    Then the connection succeeds
    And the connected-device list shows "HR-2" on chip 0
    When the client connects to "HR-2" with "chip=7"
    Then the request is refused as bad input mentioning "chip"

  @req:BLE-CONN-024 @needs:connect @needs:info @needs:world-control
  Scenario: A chip holds at most its chipinfo max connections; one more is refused with 500
    Given as many peripherals as chip 0 holds, plus one
    When the client connects each of them with "chip=0"
    Then every connect succeeds but the last, which is answered 500
