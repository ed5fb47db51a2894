@profile_ble_router
Feature: Batch connect (POST and DELETE /gap/batch-connect)
  A JSON body: list [{"type","addr"}], timeout 20..20000 ms per attempt (default 5000),
  per_dev_timeout >= timeout (default 2 x timeout) per device including retries. A later POST
  adds to the list. A device not reached in time is reported "connect timeout" on the
  connection-state stream. DELETE empties the queue.

  @req:BLE-BATCH-001 @req:BLE-BATCH-002 @needs:batch-connect @needs:connection-state @needs:world-control
  Scenario: The listed devices are connected one by one; an absent one times out
    Given a peripheral "HR-1" at 2 m
    And a peripheral "HR-2" at 3 m
    When a client opens the connection-state stream
    And the client batch-connects "HR-1", "F0:00:00:00:0E:0E" and "HR-2" with "timeout=1000&per_dev_timeout=2500"
    Then the connection-state stream shows "HR-1" "connected" within 3 seconds
    And the connection-state stream shows "F0:00:00:00:0E:0E" "connect timeout" between 2.4 and 4.5 seconds after the batch request
    And the connection-state stream shows "HR-2" "connected" within 3 seconds
    And the connected-device list contains "HR-1"
    And the connected-device list contains "HR-2"

  @req:BLE-BATCH-002 @needs:batch-connect @needs:connection-state
  Scenario: Without per_dev_timeout a device is tried for twice the timeout
    When a client opens the connection-state stream
    And the client batch-connects "F0:00:00:00:0E:0F" with "timeout=1000"
    Then the connection-state stream shows "F0:00:00:00:0E:0F" "connect timeout" between 1.9 and 3.5 seconds after the batch request

  @req:BLE-BATCH-004 @needs:batch-connect @needs:connection-state @needs:world-control
  Scenario: A second request adds to the list being worked
    Given a peripheral "HR-1" at 2 m
    And a peripheral "HR-2" at 3 m
    When a client opens the connection-state stream
    And the client batch-connects "F0:00:00:00:0E:10" with "timeout=1000"
    And the client batch-connects "HR-1" and "HR-2"
    Then the connection-state stream shows "F0:00:00:00:0E:10" "connect timeout" between 1.9 and 3.5 seconds after the batch request
    And the connection-state stream shows "HR-1" "connected" within 8 seconds
    And the connection-state stream shows "HR-2" "connected" within 8 seconds

  @req:BLE-BATCH-003 @needs:batch-connect @needs:connection-state
  Scenario: DELETE /gap/batch-connect empties the queue
    When a client opens the connection-state stream
    And the client batch-connects "F0:00:00:00:0E:11", "F0:00:00:00:0E:12" and "F0:00:00:00:0E:13" with "timeout=500"
    And the client removes the batch-connect list
    And 4 seconds pass
    Then the connection-state stream never shows "F0:00:00:00:0E:12" "connect timeout"
    And the connection-state stream never shows "F0:00:00:00:0E:13" "connect timeout"

  @req:BLE-BATCH-005 @needs:batch-connect
  Scenario Outline: Bad batch-connect input is refused with 400 naming it
    When the client sends the batch-connect body <body>
    Then the request is refused as bad input mentioning "<mentions>"

    Examples:
      | body                                                        | mentions        |
      | {"list": [{"type": "random", "addr": "F0:00"}]}             | F0:00           |
      | {"list": [{"type": "static", "addr": "F0:00:00:00:0E:01"}]} | static          |
      | {"list": [], "timeout": "19"}                               | timeout         |
      | {"list": [], "timeout": "20001"}                            | timeout         |
      | {"list": [], "timeout": "1000", "per_dev_timeout": "999"}   | per_dev_timeout |
      | {"list": "F0:00:00:00:0E:01"}                               | list            |
