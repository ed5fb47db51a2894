@profile_ble_router
Feature: GATT discovery, read and write (/gatt/nodes/<node>/...)
  The peripheral is the stock sensor: heart rate 180D (2A37 read|notify = 18, 2A39 write|
  write-without-response = 12) and battery 180F (2A19 read|indicate = 34, value 64).
  Handles always come from the router's own discovery answers.

  Background:
    Given a peripheral "HR-1" at 2 m
    And "HR-1" is connected

  @req:BLE-GATT-001 @needs:gatt @needs:world-control
  Scenario: Discover all services
    When the client discovers the services of "HR-1"
    Then the answer lists the primary services "180D" and "180F"

  @req:BLE-GATT-002 @needs:gatt @needs:world-control
  Scenario: Discover all characteristics
    When the client discovers the characteristics of "HR-1"
    Then the answer lists the characteristics "2A37", "2A39" and "2A19"
    And characteristic "2A37" has the properties 18
    And characteristic "2A39" has the properties 12
    And characteristic "2A19" has the properties 34

  @req:BLE-GATT-003 @needs:gatt @needs:world-control
  Scenario: Discover the characteristics of one service
    When the client discovers the characteristics of service "180D" on "HR-1"
    Then the answer lists exactly the characteristics "2A37" and "2A39"

  @req:BLE-GATT-004 @needs:gatt @needs:world-control
  Scenario: Look up one service by its UUID
    When the client looks up service "180F" on "HR-1"
    Then the answer is the single service "180F"

  @req:BLE-GATT-005 @needs:gatt @needs:world-control
  Scenario: Look up one characteristic by its UUID
    When the client looks up characteristic "2A39" on "HR-1"
    Then the answer is the single characteristic "2A39" with the properties 12

  @req:BLE-GATT-006 @needs:gatt @needs:world-control
  Scenario: Discover the descriptors of one characteristic
    When the client discovers the descriptors of characteristic "2A37" on "HR-1"
    Then the answer lists the descriptor "2902"

  @req:BLE-GATT-007 @needs:gatt @needs:world-control
  Scenario: Discover services, characteristics and descriptors at once
    When the client discovers all services, characteristics and descriptors of "HR-1"
    Then the answer is a service tree where "180D" holds "2A37" with the descriptor "2902"
    And the answer is a service tree where "180F" holds "2A19" with the descriptor "2902"

  @req:BLE-GATT-010 @needs:gatt @needs:world-control
  Scenario: Read a characteristic by its handle
    When the client reads "2A19" of "HR-1"
    Then the value read is "64"

  @req:BLE-GATT-010 @needs:gatt @needs:world-control
  Scenario: A read answers the value the device holds at that moment, every time
    Then reading "2A37" of "HR-1" answers the value "HR-1" holds
    When 3 seconds pass
    Then reading "2A37" of "HR-1" answers the value "HR-1" holds

  @req:BLE-GATT-011 @needs:gatt @needs:world-control
  Scenario: Write a characteristic by its handle
    When the client writes "0102" to "2A39" of "HR-1"
    Then the write succeeds
    And "HR-1" has received exactly "0102" on "2A39"

  @req:BLE-GATT-012 @needs:gatt @needs:world-control
  Scenario: Write a characteristic without response
    When the client writes "A5" to "2A39" of "HR-1" without response
    Then the write succeeds
    And "HR-1" has received exactly "A5" on "2A39"

  @req:BLE-GATT-013 @needs:gatt @needs:world-control
  Scenario: A write to a read-only characteristic is refused with the device's ATT error
    When the client writes "4142" to "2A00" of "HR-1"
    Then the write is refused with the ATT error "0x03 Write Not Permitted"
    And "HR-1" does not hold "4142" on "2A00"
    When the client writes "00" to "2A19" of "HR-1"
    Then the write is refused with the ATT error "0x03 Write Not Permitted"
    And "HR-1" has received nothing on "2A19"
    When the client reads "2A19" of "HR-1"
    Then the value read is "64"
