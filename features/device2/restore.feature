@profile_device2 @needs:device2-restore-archive
Feature: Data restore from daily archives: restoreTime, restoreUrl, status and retry
  The harness lays daily archive files where the service reads them; a restore brings their
  points back into the data store, each once, and reports its task and files.

  @req:D2-RST-001
  Scenario: restoreTime restores the days asked for and getRestoreStatus reports the task
    Given an archive of "2025-12-30" holding "temperature" 20.5 and 21 of "dev1" and 5 of "dev2"
    When the operator calls "restoreTime" with {"start_date": "2025-12-30", "end_date": "2025-12-30", "identities": ["dev1"]}
    Then the answer is 200
    And the answer's "total" is 1
    And "querySignal" finds the values 20.5 and 21 of "temperature" for "dev1" on "2025-12-30"
    And "querySignal" finds no value of "temperature" for "dev2" on "2025-12-30"
    When the operator asks getRestoreStatus about that task
    Then the answer's "status" is "done"
    When the operator asks getRestoreTaskStatus about that task
    Then the answer is 200

  @req:D2-RST-002
  Scenario: restoreUrl restores a file once, even when asked twice
    Given an archive of "2025-12-29" holding "temperature" 1 and 2 of "dev1" and 3 of "dev1"
    When the operator restores that archive by URL
    And the operator restores that archive by URL
    Then "querySignal" finds the values 1, 2 and 3 of "temperature" for "dev1" on "2025-12-29"

  @req:D2-RST-003
  Scenario: A failed day is retried by retryRestoreTask once its file exists
    When the operator calls "restoreTime" with {"start_date": "2025-12-28", "end_date": "2025-12-28"}
    Then the answer is 200
    When the operator asks getRestoreStatus about that task
    Then the answer's "status" is "failed"
    Given an archive of "2025-12-28" holding "temperature" 9 and 10 of "dev1" and 11 of "dev1"
    When the operator asks retryRestoreTask about that task
    Then the answer is 200
    And "querySignal" finds the values 9, 10 and 11 of "temperature" for "dev1" on "2025-12-28"
    When the operator asks getRestoreStatus about that task
    Then the answer's "status" is "done"
