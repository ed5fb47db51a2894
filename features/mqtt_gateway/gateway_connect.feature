@profile_mqtt_gateway
Feature: A gateway logs in, connects its devices before their data, asks for its limits (SUT = a gateway)
  The harness is the platform above the gateway under test (recording every packet) and the
  meters below it on an RS485 line. The gateway logs in with its access token, announces each
  meter that answers with v1/gateway/connect before any of its data, publishes its client
  attributes and, like the official software, asks for its session limits.

  Background:
    Given the gateway under test has connected its meters

  @req:MQTT-GW-AUTH-001 @needs:mqtt-gateway-role
  Scenario: The gateway logs in with its access token
    Then the gateway logged in with its access token as the user name

  @req:MQTT-GW-CONN-001 @req:MQTT-GW-CONN-002 @needs:mqtt-modbus
  Scenario: Every meter is connected before any of its data
    When 10 seconds pass
    Then the gateway published v1/gateway/connect for every meter
    And the gateway connected each meter before publishing its data

  @req:MQTT-GW-ATTR-001 @needs:mqtt-modbus
  Scenario: The meters' client attributes are published per device
    When 5 seconds pass
    Then the gateway published each meter's serial number as a client attribute

  @req:MQTT-GW-LIM-001 @needs:mqtt-gateway-role
  Scenario: The gateway asks for its session limits after connecting
    Then the gateway asked for getSessionLimits on v1/devices/me/rpc/request

  @req:MQTT-GW-QOS-001 @needs:mqtt-modbus
  Scenario: Data goes out at QoS 1
    When 5 seconds pass
    Then the gateway published its telemetry and attributes at QoS 1
