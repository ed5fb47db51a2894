@profile_device2
Feature: Identity tags: add, get, list names, remove
  Tags are name/value pairs on an identity; a name may hold several values.

  Background:
    Given the operator has called "addIdentity" with {"identity": "dev1"}
    And the operator has called "addIdentityTag" with {"identity": "dev1", "tags": [{"name": "site", "value": "north"}, {"name": "site", "value": "south"}, {"name": "type", "value": "meter"}]}

  @req:D2-TAG-001
  Scenario: getIdentityTag gives every value of a tag name
    When the operator calls "getIdentityTag" with {"identity": "dev1", "name": "site"}
    Then the answer is 200
    And the answer is ["north", "south"]

  @req:D2-TAG-002
  Scenario: listTagNames gives every tag name of the gateway
    Given the operator has called "addIdentity" with {"identity": "dev2"}
    And the operator has called "addIdentityTag" with {"identity": "dev2", "tags": [{"name": "floor", "value": "3"}]}
    When the operator calls "listTagNames"
    Then the answer is ["floor", "site", "type"]

  @req:D2-TAG-003
  Scenario: removeIdentityTag removes one value and keeps the others
    When the operator calls "removeIdentityTag" with {"identity": "dev1", "name": "site", "value": "north"}
    Then the answer is 204
    When the operator calls "getIdentityTag" with {"identity": "dev1", "name": "site"}
    Then the answer is ["south"]

  @req:D2-TAG-003
  Scenario: removeIdentityTag without a value removes the tag name
    When the operator calls "removeIdentityTag" with {"identity": "dev1", "name": "site"}
    Then the answer is 204
    When the operator calls "listTagNames"
    Then the answer is ["type"]

  @req:D2-TAG-004
  Scenario: Identities are listed by tag
    Given the operator has called "addIdentity" with {"identity": "dev2"}
    When the operator calls "listIdentities" with {"tag": {"name": "site", "value": "south"}}
    Then the listed identities are "dev1"
