@profile_rs485_modbus
Feature: Modbus RTU function codes and exceptions on an RS485 line
  Our master (pymodbus) polls the slave under test on a timed RS485 line. Addresses come from
  the register map the SUT declares, so a vendor's slave is judged the same way through a
  bridge.

  Background:
    Given the slave under test on a Modbus line
    And a Modbus master "master" on the line

  @req:MB-FC-05 @req:MB-FC-01 @needs:modbus-rtu
  Scenario: Function 5 writes a coil and function 1 reads it back
    When "master" writes coil on at the coil address
    Then "master" got a normal reply to function 5
    When "master" reads 8 coils at the coil address
    Then "master" got a normal reply to function 1
    And "master" read the values 1

  @req:MB-FC-15 @needs:modbus-rtu
  Scenario: Function 15 writes several coils
    When "master" writes coils 1, 0, 1, 1 at the coil address
    Then "master" got a normal reply to function 15
    When "master" reads 4 coils at the coil address
    Then "master" read the values 1, 0, 1, 1

  @req:MB-FC-02 @needs:modbus-rtu
  Scenario: Function 2 reads discrete inputs
    When "master" reads 8 discrete inputs at the discrete input address
    Then "master" got a normal reply to function 2
    And "master" read 8 values

  @req:MB-FC-06 @req:MB-FC-03 @needs:modbus-rtu
  Scenario: Function 6 writes a holding register and function 3 reads it back
    When "master" writes 321 to the writable register
    Then "master" got a normal reply to function 6
    When "master" reads 1 holding registers from the writable register
    Then "master" got a normal reply to function 3
    And "master" read the values 321

  @req:MB-FC-16 @needs:modbus-rtu
  Scenario: Function 16 writes several holding registers
    When "master" writes registers 7, 8, 9 from the writable register
    Then "master" got a normal reply to function 16
    When "master" reads 3 holding registers from the writable register
    Then "master" read the values 7, 8, 9

  @req:MB-FC-04 @needs:modbus-rtu
  Scenario: Function 4 reads input registers
    When "master" reads 4 input registers at the input address
    Then "master" got a normal reply to function 4
    And "master" read 4 values

  @req:MB-EXC-01 @needs:modbus-rtu
  Scenario: A function the device does not implement gets exception 1
    When "master" sends the unsupported function
    Then "master" got exception 1 to function 22

  @req:MB-EXC-02 @needs:modbus-rtu
  Scenario: An address outside the device's tables gets exception 2
    When "master" reads holding registers at the bad address
    Then "master" got exception 2 to function 3

  @req:MB-EXC-03 @needs:modbus-rtu
  Scenario: A value outside the register's range gets exception 3
    When "master" writes the out-of-range value to the limited register
    Then "master" got exception 3 to function 6

  @req:MB-EXC-04 @needs:modbus-fault-injection
  Scenario: A failed sensor makes its registers answer exception 4
    When the sensor of point "temperature" of the slave under test fails
    And "master" reads 2 input registers at address 4 of slave 1
    Then "master" got exception 4 to function 4

  @req:MB-BCAST-01 @needs:modbus-rtu
  Scenario: A broadcast write is applied and never answered
    When "master" broadcasts 77 to the writable register
    Then "master" saw no reply to the broadcast
    And slave 1 holds 77 in the writable register

  @req:MB-BCAST-02 @needs:modbus-multi-slave
  Scenario: A broadcast write reaches every slave on the line
    Given Modbus slaves at addresses 2, 3
    When "master" broadcasts 55 to the writable register
    Then slave 1 holds 55 in the writable register
    And slave 2 holds 55 in the writable register
    And slave 3 holds 55 in the writable register
