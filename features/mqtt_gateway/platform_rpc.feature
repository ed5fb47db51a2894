@profile_mqtt_gateway
Feature: A platform's server-side RPCs: ids, timeouts, devices without a session (SUT = a platform)

  @req:MQTT-RPC-003 @needs:mqtt-platform-control
  Scenario: RPC ids of a device count from 0
    Given a connected harness gateway "gw-1" with device "Device A"
    When the platform sends RPC "toggle_gpio" with {"pin": 1} to "Device A"
    And the platform sends RPC "toggle_gpio" with {"pin": 2} to "Device A"
    And the platform sends RPC "toggle_gpio" with {"pin": 3} to "Device A"
    Then the RPC succeeded with {"success": true, "params": {"pin": 3}}
    And the RPC ids "gw-1" received for "Device A" were 0, 1 and 2

  @req:MQTT-RPC-004 @needs:mqtt-platform-control
  Scenario: An unanswered RPC times out after its timeout, not earlier
    Given a connected harness gateway "gw-1" with device "Device A"
    And "gw-1" leaves RPCs unanswered
    When the platform sends RPC "toggle_gpio" with {"pin": 1} to "Device A"
    Then "gw-1" receives on "v1/gateway/rpc" {"device": "Device A", "data": {"id": 0, "method": "toggle_gpio", "params": {"pin": 1}}}
    And the RPC timed out after 10 seconds

  @req:MQTT-RPC-005 @needs:mqtt-platform-control
  Scenario: An RPC to a device that has no session fails at once
    Given a connected harness gateway "gw-1" with device "Device A"
    And "gw-1" publishes {"device": "Device A"} on "v1/gateway/disconnect"
    When the platform sends RPC "toggle_gpio" with {"pin": 1} to "Device A"
    Then the RPC failed at once with no active connection
