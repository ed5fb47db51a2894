@profile_ble_router
Feature: Refusing what cannot be done
  Bad input is refused as such (400, naming the offending value); a well-formed request the
  router cannot carry out (unknown node, node not connected, handle absent) fails with an error
  status naming what was wrong; and neither ever stops the router from serving.

  @req:BLE-ERR-001 @req:BLE-ERR-010 @needs:connect
  Scenario Outline: A malformed node address is refused as bad input
    When the client sends "<request>"
    Then the request is refused as bad input mentioning "<address>"
    And the router still answers "GET /gap/nodes?connection_state=connected" with 200

    Examples:
      | request                                              | address             |
      | POST /gap/nodes/ZZ:00:00:00:00:01/connection         | ZZ:00:00:00:00:01   |
      | DELETE /gap/nodes/F0:00:00:00:01/connection          | F0:00:00:00:01      |
      | GET /gatt/nodes/F0-00-00-00-00-01/services           | F0-00-00-00-00-01   |
      | GET /gatt/nodes/F0:00:00:00:00:0101/handle/3/value   | F0:00:00:00:00:0101 |

  @req:BLE-ERR-002 @needs:gatt @needs:world-control
  Scenario Outline: A write value with an odd number of hex digits is refused as bad input
    Given a peripheral "HR-1" at 2 m
    And "HR-1" is connected
    When the client writes "<value>" to "2A39" of "HR-1"
    Then the request is refused as bad input mentioning "<value>"
    And "HR-1" has received nothing on "2A39"
    And the connected-device list contains "HR-1"

    Examples:
      | value |
      | ABC   |
      | 01020 |

  @req:BLE-ERR-003 @needs:gatt @needs:world-control
  Scenario Outline: A write value that is not hex is refused as bad input
    Given a peripheral "HR-1" at 2 m
    And "HR-1" is connected
    When the client writes "<value>" to "2A39" of "HR-1"
    Then the request is refused as bad input mentioning "<value>"
    And "HR-1" has received nothing on "2A39"

    Examples:
      | value |
      | ZZ    |
      | 01G2  |

  @req:BLE-ERR-007 @needs:gatt @needs:world-control
  Scenario: A handle that is not a number is refused as bad input
    Given a peripheral "HR-1" at 2 m
    And "HR-1" is connected
    When the client sends "GET /gatt/nodes/${HR-1}/handle/abc/value"
    Then the request is refused as bad input mentioning "abc"

  @req:BLE-ERR-004 @req:BLE-ERR-010 @needs:gatt @needs:world-control
  Scenario: Reading a handle the device does not have fails and keeps the link
    Given a peripheral "HR-1" at 2 m
    And "HR-1" is connected
    When the client reads handle 999 of "HR-1"
    Then the request fails with an error mentioning "999"
    And the connected-device list contains "HR-1"
    When the client reads "2A19" of "HR-1"
    Then the value read is "64"

  @req:BLE-ERR-005 @needs:gatt
  Scenario: GATT requests for a node that was never connected fail
    When the client sends "GET /gatt/nodes/F0:00:00:00:0A:0C/services"
    Then the request fails with an error mentioning "F0:00:00:00:0A:0C"
    When the client sends "GET /gatt/nodes/F0:00:00:00:0A:0C/handle/3/value"
    Then the request fails with an error mentioning "F0:00:00:00:0A:0C"
    When the client sends "GET /gatt/nodes/F0:00:00:00:0A:0C/handle/3/value/0100"
    Then the request fails with an error mentioning "F0:00:00:00:0A:0C"

  @req:BLE-ERR-006 @needs:gatt @needs:world-control
  Scenario: Reading and writing a node after it was disconnected fail
    Given a peripheral "HR-1" at 2 m
    And "HR-1" is connected
    When the client reads "2A19" of "HR-1"
    Then the value read is "64"
    When the client disconnects "HR-1"
    Then the disconnection succeeds
    When the client reads "2A19" of "HR-1"
    Then the request fails with an error mentioning "${HR-1}"
    When the client writes "01" to "2A39" of "HR-1"
    Then the request fails with an error mentioning "${HR-1}"
    And "HR-1" has received nothing on "2A39"

  @req:BLE-ERR-020 @req:BLE-ERR-010 @needs:scan @needs:notify
  Scenario Outline: A parameter outside its documented range is refused as bad input, naming it
    When the client sends "<request>"
    Then the request is refused as bad input mentioning "<named>"
    And the router still answers "GET /gap/nodes?connection_state=connected" with 200

    Examples:
      | request                                       | named           |
      | GET /gap/nodes?event=1&active=2               | active          |
      | GET /gap/nodes?event=1&filter_duplicates=2    | filter_duplicates |
      | GET /gap/nodes?event=1&report_interval=999    | report_interval |
      | GET /gap/nodes?event=1&filter_rssi=-300       | -300            |
      | GET /gap/nodes?event=1&chip=7                 | chip            |
      | GET /gap/nodes?event=1&timestamp=2            | timestamp       |
      | GET /gatt/nodes?event=1&sequence=3            | sequence        |
      | GET /gatt/nodes?event=1&timestamp=yes         | timestamp       |
      | GET /cassia/info?fields=cpu                   | cpu             |

  @req:BLE-ERR-021 @needs:scan
  Scenario Outline: A malformed MAC or hex value inside a parameter is refused as bad input
    When the client sends "<request>"
    Then the request is refused as bad input mentioning "<named>"

    Examples:
      | request                                                      | named   |
      | GET /gap/nodes?event=1&filter_mac=CC:1B:E0:E8:0B             | CC:1B:E0:E8:0B |
      | GET /gap/nodes?event=1&filter_value=%7B%22data%22:%220G%22%7D | 0G      |

  @req:BLE-ERR-022 @needs:gatt @needs:world-control
  Scenario: Writing with noresponse outside 0 or 1 is refused and nothing reaches the device
    Given a peripheral "HR-1" at 2 m
    And "HR-1" is connected
    When the client sends "GET /gatt/nodes/${HR-1}/handle/3/value/01?noresponse=2"
    Then the request is refused as bad input mentioning "noresponse"
    And "HR-1" has received nothing on "2A39"

  @req:BLE-ERR-023 @needs:connect @needs:world-control
  Scenario: pair-input without a pending pairing fails, naming the node
    Given a peripheral "HR-1" at 2 m
    And "HR-1" is connected
    When the client sends the pair-input "passkey=123456" for "HR-1"
    Then the request fails with an error mentioning "${HR-1}"
    And the connected-device list contains "HR-1"
