@profile_rs485_modbus
Feature: A Modbus RTU slave answers every request as the application protocol prescribes
  A raw sender on the line sends requests a master library would never build (the harness
  computes their CRC) and reads the slave's answers back raw: exception 1 for a function it
  does not implement or a code reserved for exception replies, exception 3 for a quantity out
  of the function's range or an illegal coil value, and its own identity when asked.

  Background:
    Given the slave under test on a Modbus line
    And a raw Modbus sender "probe" on the line

  @req:MB-EXC-01 @needs:modbus-rtu
  Scenario: A public function code no standard assigns gets exception 1
    When "probe" sends function 50 with data "00 00 00 01" to the slave under test
    Then "probe" heard exception 1 to function 50

  @req:MB-EXC-05 @needs:modbus-rtu
  Scenario Outline: A request with a function code reserved for exception replies gets exception 1
    When "probe" sends function <function> with data "00 00 00 01" to the slave under test
    Then "probe" heard exception 1 to function <function>

    Examples:
      | function |
      | 128      |
      | 131      |
      | 255      |

  @req:MB-EXC-06 @needs:modbus-rtu
  Scenario Outline: A quantity outside the function's range gets exception 3
    When "probe" asks function <function> for <quantity> items at address 0 of the slave under test
    Then "probe" heard exception 3 to function <function>

    Examples:
      | function | quantity |
      | 1        | 0        |
      | 1        | 2001     |
      | 2        | 0        |
      | 2        | 2001     |
      | 3        | 0        |
      | 3        | 126      |
      | 4        | 0        |
      | 4        | 126      |
      | 15       | 0        |
      | 15       | 1969     |
      | 16       | 0        |
      | 16       | 124      |

  @req:MB-EXC-07 @needs:modbus-rtu
  Scenario: A coil value other than ON (0xFF00) or OFF (0x0000) gets exception 3 and changes nothing
    Given a Modbus master "master" on the line
    When "master" reads 1 coils at the coil address
    And "probe" writes the value 0x1234 to the coil at the coil address
    Then "probe" heard exception 3 to function 5
    And "master" reads the same coil state again

  @req:MB-ID-01 @needs:modbus-rtu
  Scenario: Report Server ID names the device and says it is running
    When "probe" asks the slave under test for its server ID
    Then "probe" heard a server ID with the run indicator on

  @req:MB-ID-02 @needs:modbus-rtu
  Scenario: Read Device Identification gives the vendor name, product code and revision
    When "probe" asks the slave under test for its basic device identification
    Then "probe" heard the vendor name, product code and revision
