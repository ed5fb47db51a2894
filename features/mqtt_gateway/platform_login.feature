@profile_mqtt_gateway
Feature: A platform lets gateways in by their access tokens (SUT = a platform)
  The harness's gateways log in with the access tokens the platform gave them, under MQTT 5 and
  MQTT 3.1.1, ask for their session limits as the official client does, and are told which QoS
  their subscriptions get.

  @req:MQTT-AUTH-001 @needs:mqtt-platform-role
  Scenario: A gateway logs in with its access token under MQTT 5
    Given a harness gateway "gw-1"
    When "gw-1" connects with its access token
    Then "gw-1" is accepted

  @req:MQTT-AUTH-001 @needs:mqtt-platform-role @needs:mqtt-v311
  Scenario: A gateway logs in with its access token under MQTT 3.1.1
    Given a harness gateway "gw-1" speaking MQTT 3.1.1
    When "gw-1" connects with its access token
    Then "gw-1" is accepted

  @req:MQTT-AUTH-002 @needs:mqtt-platform-role
  Scenario: An access token the platform never gave out is refused
    Given a harness gateway "gw-1"
    When "gw-1" connects with the access token "no-such-token-0000"
    Then "gw-1" is refused
    And "gw-1" is not connected

  @req:MQTT-LIM-001 @needs:mqtt-platform-role
  Scenario: getSessionLimits is answered on the gateway's device API
    Given a connected harness gateway "gw-1"
    When "gw-1" publishes {"method": "getSessionLimits", "params": {"timeout": 5000}} on "v1/devices/me/rpc/request/1"
    Then "gw-1" receives on "v1/devices/me/rpc/response/1" an object with "maxPayloadSize", "maxInflightMessages" and "rateLimits"

  @req:MQTT-QOS-001 @needs:mqtt-platform-role
  Scenario: Gateway topics are granted QoS 1 and QoS 1 messages are acknowledged
    Given a connected harness gateway "gw-1"
    When "gw-1" publishes {"device": "Device A"} on "v1/gateway/connect"
    And "gw-1" publishes {"Device A": [{"ts": 1483228800000, "values": {"temperature": 42}}]} on "v1/gateway/telemetry"
    Then "gw-1" was granted QoS 1 for each gateway topic it asked for
    And every QoS 1 message "gw-1" sent was acknowledged with reason 0
