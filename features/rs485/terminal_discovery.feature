@profile_rs485_modbus
Feature: A terminal searches its RS485 bus for slaves and registers them
  What an access-control terminal does before GetSlaveDevice/SetSlaveDevice can report its
  slaves: ask every address, keep who answered, enrol the ones it is told to.

  Background:
    Given the slave under test on a Modbus line
    And a Modbus master "terminal" with a 0.1 s timeout and 0 retries

  @req:MB-DISC-01 @needs:modbus-rtu
  Scenario: The search finds the slave under test and not an empty address
    When "terminal" searches addresses 1 to 4
    Then the search found the slave under test and not address 4

  @req:MB-DISC-02 @needs:modbus-multi-slave
  Scenario: The search finds every slave and registration keeps the chosen ones
    Given Modbus slaves at addresses 5, 9
    When "terminal" searches addresses 1 to 12
    Then the search found slaves 1, 5, 9
    When the terminal registers slaves 5, 9
    Then the registered slaves are 5, 9
    When the terminal registers slaves 4, 5
    Then the registration is refused naming address 4
    And the registered slaves are 5, 9
