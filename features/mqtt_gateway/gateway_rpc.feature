@profile_mqtt_gateway
Feature: A gateway carries out RPCs and answers them in time (SUT = a gateway)

  Background:
    Given the gateway under test has connected its meters

  @req:MQTT-GW-RPC-001 @req:MQTT-GW-RPC-002 @needs:mqtt-modbus
  Scenario: A write RPC reaches the meter and is answered with the request's device and id
    When the platform sends the write RPC with 31.5 to "Meter 1"
    Then the RPC succeeded within 10 seconds
    And the gateway wrote 315 to the setpoint register of "Meter 1"
    And the gateway answered on v1/gateway/rpc with the request's device and id

  @req:MQTT-GW-RPC-001 @needs:mqtt-modbus
  Scenario: A read RPC answers with the meter's value
    When the platform sends the write RPC with 55.5 to "Meter 2"
    And the platform sends the read RPC to "Meter 2"
    Then the RPC succeeded within 10 seconds with the value 55.5 in its answer
    And the gateway answered on v1/gateway/rpc with the request's device and id

  @req:MQTT-GW-RPC-002 @needs:mqtt-ble
  Scenario: An RPC to a BLE sensor is answered within the timeout
    Given the gateway has connected "HR 1"
    When the platform sends RPC "setControl" with {"value": 7} to "HR 1"
    Then the RPC succeeded within 10 seconds

  @req:MQTT-GW-RPC-003 @needs:mqtt-modbus
  Scenario: An RPC the meter cannot carry out is answered with an error, not left to time out
    When the platform sends RPC "noSuchMethod" with {"x": 1} to "Meter 1"
    Then the RPC was answered within 10 seconds with an error
