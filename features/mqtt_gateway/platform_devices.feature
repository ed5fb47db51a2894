@profile_mqtt_gateway
Feature: A platform keeps the devices its gateways connect (SUT = a platform)
  v1/gateway/connect looks a device up or creates it; from then on the platform publishes the
  device's attribute updates and RPCs to the gateway that connected it, until
  v1/gateway/disconnect or the end of the gateway's connection.

  @req:MQTT-CONN-001 @req:MQTT-CONN-002 @needs:mqtt-platform-control
  Scenario: Connecting a device creates it, of type default, behind its gateway
    Given a connected harness gateway "gw-1"
    When "gw-1" publishes {"device": "Device A"} on "v1/gateway/connect"
    Then the platform acknowledged it with reason 0
    And the platform knows device "Device A" of type "default" behind "gw-1"

  @req:MQTT-CONN-002 @needs:mqtt-platform-control
  Scenario: Connecting an existing device again keeps its type
    Given a connected harness gateway "gw-1"
    When "gw-1" publishes {"device": "Device A", "type": "thermometer"} on "v1/gateway/connect"
    And "gw-1" publishes {"device": "Device A", "type": "meter"} on "v1/gateway/connect"
    Then the platform knows device "Device A" of type "thermometer" behind "gw-1"

  @req:MQTT-CONN-003 @req:MQTT-PUSH-001 @req:MQTT-RPC-001 @req:MQTT-RPC-002 @needs:mqtt-platform-control
  Scenario: A connected device's attribute updates and RPCs reach its gateway
    Given a connected harness gateway "gw-1" with device "Device A"
    When the platform sets the shared attributes {"interval": 5, "mode": "eco"} of "Device A"
    Then "gw-1" receives on "v1/gateway/attributes" {"device": "Device A", "data": {"interval": 5, "mode": "eco"}}
    When the platform sends RPC "toggle_gpio" with {"pin": 1} to "Device A"
    Then "gw-1" receives on "v1/gateway/rpc" {"device": "Device A", "data": {"id": 0, "method": "toggle_gpio", "params": {"pin": 1}}}
    And the RPC succeeded with {"success": true, "params": {"pin": 1}}

  @req:MQTT-DISC-001 @needs:mqtt-platform-control
  Scenario: After a device is disconnected nothing more is published for it
    Given a connected harness gateway "gw-1" with device "Device A"
    When "gw-1" publishes {"device": "Device A"} on "v1/gateway/disconnect"
    And the platform sends RPC "toggle_gpio" with {"pin": 2} to "Device A"
    Then the RPC failed at once with no active connection
    And "gw-1" received nothing on "v1/gateway/rpc"

  @req:MQTT-SESS-001 @needs:mqtt-platform-control
  Scenario: A gateway's devices lose their sessions with its connection and find them again
    Given a connected harness gateway "gw-1" with device "Device A"
    When "gw-1" disconnects
    And the platform sends RPC "toggle_gpio" with {"pin": 3} to "Device A"
    Then the RPC failed at once with no active connection
    When "gw-1" connects with its access token
    And "gw-1" publishes {"device": "Device A"} on "v1/gateway/connect"
    And the platform sends RPC "toggle_gpio" with {"pin": 4} to "Device A"
    Then the RPC succeeded with {"success": true, "params": {"pin": 4}}
