@profile_connect_master
Feature: Connect Master: terminals find their RS485 slaves on a real bus (seed 000, "Slave")
  A terminal's RS485 slaves are OSDP readers on a line of its own. The terminal searches the
  line (at power-on, and when told), learns each answering reader's device ID over OSDP, and
  only slaves it found can be assigned with SetSlaveDevice or AddSlaveDeviceDB.

  Background:
    Given "tenant-a" is logged in to the master gateway
    And a terminal 1601 on "gw-a" at host 81 with RS485 slave readers 1:5001 2:5002 4:5003
    When "tenant-a" calls AddAsyncConnection on "gw-a" for device 1601 at "10.0.0.81"
    And 6 seconds pass

  @req:CM-SLAVE-001 @req:CM-SLAVE-003 @needs:world-control @needs:rs485-slave-bus
  Scenario: The terminal finds the 3 readers on its bus; 2 are registered and read back
    When "tenant-a" calls SetSlaveDevice on "gw-a" with device 1601 slaves 9999
    Then the call fails with FAILED_PRECONDITION
    And the error names slave 9999 and the found slaves 5001 5002 5003
    When "tenant-a" calls SetSlaveDevice on "gw-a" with device 1601 slaves 5001 5003
    Then the call succeeds
    And "tenant-a" reads GetSlaveDevice of "gw-a" with device 1601 slaves 5001 5003

  @req:CM-SLAVE-004 @needs:world-control @needs:rs485-slave-bus
  Scenario: A slave powered off is no longer found at the next search, and back when powered
    When "tenant-a" calls SetSlaveDevice on "gw-a" with device 1601 slaves 5001 5003
    And RS485 slave 5003 of terminal 1601 is powered off
    And terminal 1601 searches its RS485 bus
    Then "tenant-a" reads GetSlaveDevice of "gw-a" with device 1601 slaves 5001
    When "tenant-a" calls SetSlaveDevice on "gw-a" with device 1601 slaves 5001 5003
    Then the call fails with FAILED_PRECONDITION
    And the error names slave 5003 and the found slaves 5001 5002
    When RS485 slave 5003 of terminal 1601 is powered on
    And terminal 1601 searches its RS485 bus
    And "tenant-a" calls SetSlaveDevice on "gw-a" with device 1601 slaves 5001 5003
    Then the call succeeds
    And "tenant-a" reads GetSlaveDevice of "gw-a" with device 1601 slaves 5001 5003

  @req:CM-SLAVE-002 @req:CM-SLAVE-003 @req:CM-SLAVE-006 @needs:world-control @needs:gateway-restart
  @needs:rs485-slave-bus
  Scenario: DB slaves found on the bus are assigned again after the gateway reconnects
    When "tenant-a" calls AddAsyncConnectionDB on "gw-a" for device 1601 at "10.0.0.81"
    And "tenant-a" calls AddSlaveDeviceDB on "gw-a" with device 1601 slaves 5002 5003
    And "tenant-a" calls SetSlaveDevice on "gw-a" with device 1601 slaves 5001
    Then the call succeeds
    When device gateway "gw-a" restarts
    And 5 seconds pass
    Then "tenant-a" reads GetSlaveDevice of "gw-a" with device 1601 slaves 5002 5003
    And "tenant-a" reads GetSlaveDeviceDB of "gw-a" with device 1601 slaves 5002 5003
