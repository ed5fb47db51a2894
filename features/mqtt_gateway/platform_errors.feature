@profile_mqtt_gateway
Feature: A platform answers bad messages the way the real one does (SUT = a platform)
  Unknown topics are refused with "topic name invalid", payloads that are not JSON with
  "payload format invalid" (MQTT 5) or a closed session (3.1.1), messages without a required
  field with a closed connection; nothing refused is stored and nothing stored before is lost.

  @req:MQTT-ERR-001 @needs:mqtt-platform-role
  Scenario: An unknown gateway topic is refused with topic name invalid
    Given a connected harness gateway "gw-1"
    When "gw-1" publishes {"device": "Device A"} on "v1/gateway/nonexistent"
    Then the platform answered with reason 0x90
    And "gw-1" is still connected

  @req:MQTT-ERR-002 @needs:mqtt-platform-role
  Scenario: A payload that is not JSON is refused with payload format invalid under MQTT 5
    Given a connected harness gateway "gw-1"
    When "gw-1" publishes the bytes 'this is not json' on "v1/gateway/telemetry"
    Then the platform answered with reason 0x99
    And "gw-1" is still connected
    When "gw-1" publishes {"Device A": {"attribute1": "after"}} on "v1/gateway/attributes"
    Then the platform acknowledged it with reason 0

  @req:MQTT-ERR-003 @needs:mqtt-platform-role @needs:mqtt-v311
  Scenario: A payload that is not JSON closes the session under MQTT 3.1.1
    Given a connected harness gateway "gw-1" speaking MQTT 3.1.1
    When "gw-1" publishes the bytes 'this is not json' on "v1/gateway/telemetry"
    Then the platform closed the connection of "gw-1"

  @req:MQTT-ERR-004 @needs:mqtt-platform-role
  Scenario: A connect without a device closes the connection
    Given a connected harness gateway "gw-1"
    When "gw-1" publishes {"name": "Device A"} on "v1/gateway/connect"
    Then the platform closed the connection of "gw-1"

  @req:MQTT-ERR-004 @needs:mqtt-platform-role
  Scenario: An attribute request without an id closes the connection
    Given a connected harness gateway "gw-1"
    When "gw-1" publishes {"device": "Device A", "client": true, "key": "attribute1"} on "v1/gateway/attributes/request"
    Then the platform closed the connection of "gw-1"

  @req:MQTT-ERR-005 @req:MQTT-ERR-002 @needs:mqtt-platform-control
  Scenario: A refused message changes nothing stored before it
    Given a connected harness gateway "gw-1"
    When "gw-1" publishes {"Device A": [{"ts": 1483228800000, "values": {"temperature": 42}}]} on "v1/gateway/telemetry"
    And "gw-1" publishes the bytes '{"Device A": [{"ts": 1483228800000, "values": {"temperature": ' on "v1/gateway/telemetry"
    Then the platform answered with reason 0x99
    And the platform holds "temperature" of "Device A" as 42 at 1483228800000
