@profile_mqtt_gateway
Feature: A gateway loses, duplicates and reorders nothing across outages and restarts (SUT = a gateway)
  The platform goes away while the gateway keeps reading its meters, or the gateway itself
  restarts. Afterwards every reading the gateway took reaches the platform exactly once, in
  order, and the gateway subscribes and connects its devices again so RPCs and attribute
  updates reach them. A loss is a fail with the lost readings as evidence.

  Background:
    Given the gateway under test has connected its meters

  @req:MQTT-GW-LOSS-001 @req:MQTT-GW-DUP-001 @req:MQTT-GW-ORD-001 @needs:mqtt-modbus
  Scenario: A broker outage loses, duplicates and reorders no telemetry
    When 5 seconds pass
    And the platform is unreachable for 30 seconds
    Then within 90 seconds the gateway is connected again
    And no telemetry was lost, duplicated or reordered

  @req:MQTT-GW-SUB-001 @needs:mqtt-modbus
  Scenario: After an outage the gateway subscribes again and its devices are reachable
    When the platform is unreachable for 20 seconds
    Then within 90 seconds the gateway is connected again
    And the gateway subscribed again to v1/gateway/rpc and v1/gateway/attributes
    When 5 seconds pass
    And the platform sends the write RPC with 12.0 to "Meter 1"
    Then the RPC succeeded within 10 seconds
    When the platform sets the shared setpoint of "Meter 2" to 21.5
    Then within 10 seconds the gateway writes 215 to the setpoint register of "Meter 2"

  @req:MQTT-GW-LOSS-002 @req:MQTT-GW-DUP-001 @req:MQTT-GW-ORD-001 @needs:mqtt-modbus
  Scenario: A gateway restart loses, duplicates and reorders no telemetry
    When 5 seconds pass
    And the platform is unreachable for 10 seconds
    And the gateway restarts
    Then within 90 seconds the gateway is connected again
    And no telemetry was lost, duplicated or reordered

  @req:MQTT-GW-DUP-001 @req:MQTT-GW-ORD-001 @req:MQTT-GW-SUB-001 @needs:mqtt-modbus
  Scenario: A gateway killed and started again duplicates and reorders nothing it knew was delivered
    When 5 seconds pass
    And the gateway crashes and starts again
    Then within 90 seconds the gateway is connected again
    And no telemetry was duplicated or reordered
    When 5 seconds pass
    And the platform sends the write RPC with 13.0 to "Meter 1"
    Then the RPC succeeded within 10 seconds

  @req:MQTT-GW-LOSS-001 @req:MQTT-GW-DUP-001 @req:MQTT-GW-ORD-001 @needs:mqtt-modbus @needs:mqtt-network-faults
  Scenario: A silent partition longer than the keep alive loses nothing
    When 5 seconds pass
    And the path between the gateway and the platform is cut for 120 seconds
    Then within 180 seconds the gateway is connected again
    And no telemetry was lost, duplicated or reordered
