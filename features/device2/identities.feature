@profile_device2
Feature: Identities through the management API: add, get, list, count, update, remove
  Every identity operation the seed names, with the identity object it describes: auth,
  locked, online, status, lastip, lastseen, tags and state.

  @req:D2-IDM-001
  Scenario: addIdentity whitelists an identity that getIdentity then describes
    When the operator calls "addIdentity" with {"identity": "dev1", "auth": {"type": "token"}}
    Then the answer is 204
    When the operator calls "getIdentity" with {"identity": "dev1"}
    Then the answer is 200
    And the answer's "identity" is "dev1"
    And the answer's "status" is "whitelisted"
    And the answer's "locked" is false
    And the answer's "online" is false
    And the answer's "auth.type" is "token"
    And the answer has the fields "identity", "auth", "locked", "online", "status", "lastip", "lastseen", "tags" and "state"

  @req:D2-IDM-001
  Scenario: The vendor's REST path whitelists an identity too
    When the operator sends PUT "/identity/00000002" with {"locked": false}
    Then the answer is 204
    And "00000002" has status "whitelisted"

  @req:D2-IDM-002
  Scenario: listIdentities lists newest-seen first and pages with mayLoadMore
    Given HTTP devices "d1", "d2" and "d3" with identities "dev1", "dev2" and "dev3" are switched on one after the other, 5 seconds apart
    When the operator calls "listIdentities" with {"limit": 2}
    Then the answer is 200
    And the listed identities are "dev3" and "dev2"
    And the answer's "mayLoadMore" is true
    When the operator calls "listIdentities" with {"limit": 5}
    Then the listed identities are "dev3", "dev2" and "dev1"
    And the answer's "mayLoadMore" is false

  @req:D2-IDM-002
  Scenario: listIdentities and countIdentities filter by status
    Given the operator has called "addIdentity" with {"identity": "w1"}
    And the operator has called "addIdentity" with {"identity": "l1", "locked": true}
    And an HTTP device "d1" with identity "p1" is switched on
    And 1 second passes
    When the operator calls "listIdentities" with {"status": "whitelisted"}
    Then the listed identities are "w1"
    When the operator calls "countIdentities" with {"status": "locked"}
    Then the answer's "count" is 1
    When the operator calls "countIdentities" with {"status": "provisioned,whitelisted"}
    Then the answer's "count" is 2
    When the operator calls "countIdentities"
    Then the answer's "count" is 3

  @req:D2-IDM-003
  Scenario: updateIdentity changes one identity, updateIdentities every identity a query matches
    Given the operator has called "addIdentity" with {"identity": "dev1"}
    And the operator has called "addIdentity" with {"identity": "dev2"}
    And the operator has called "addIdentity" with {"identity": "other"}
    When the operator calls "updateIdentity" with {"identity": "other", "locked": true}
    Then the answer is 204
    And "other" has status "locked"
    When the operator calls "updateIdentities" with {"identity": "^dev", "add": {"tags": [{"name": "group", "value": "a"}]}}
    Then the answer is 204
    When the operator calls "listIdentities" with {"tag": {"name": "group", "value": "a"}}
    Then the listed identities, in any order, are "dev1" and "dev2"

  @req:D2-IDM-004
  Scenario: removeIdentity and removeIdentities forget identities
    Given the operator has called "addIdentity" with {"identity": "dev1"}
    And the operator has called "addIdentity" with {"identity": "dev2"}
    And the operator has called "addIdentity" with {"identity": "dev3"}
    When the operator calls "removeIdentities" with {"identities": ["dev2", "dev3"]}
    Then the answer is 204
    When the operator calls "countIdentities"
    Then the answer's "count" is 1
    When the operator calls "removeIdentity" with {"identity": "dev1"}
    Then the answer is 205
    When the operator calls "countIdentities"
    Then the answer's "count" is 0

  @req:D2-IDM-005
  Scenario: Credentials are never returned by the management API
    Given the operator has called "addIdentity" with {"identity": "dev1", "auth": {"type": "password", "key": "a password of twenty-four"}}
    And an HTTP device "d1" with identity "dev2" is switched on
    And 1 second passes
    When the operator calls "getIdentity" with {"identity": "dev1"}
    Then the answer's "auth.key" is null
    And the answer does not contain "a password of twenty-four"
    When the operator calls "listIdentities"
    Then the answer does not contain the token of "d1"

  @req:D2-IDM-006
  Scenario: An identity reports online, its last IP and when it was last seen
    Given an MQTT device "m1" with identity "dev1" at "192.0.2.77" reporting every 10 seconds is switched on
    And 1 second passes
    When the operator calls "getIdentity" with {"identity": "dev1"}
    Then the answer's "online" is true
    And the answer's "lastip" is "192.0.2.77"
    And the answer's "lastseen" is a number
    When "m1" is switched off
    And 1 second passes
    And the operator calls "getIdentity" with {"identity": "dev1"}
    Then the answer's "online" is false

  @req:D2-IDM-007
  Scenario: The identity permission says whom a gateway device may publish as
    Given the operator has called "addIdentity" with {"identity": "gw1"}
    When the operator calls "updateIdentityPermission" with {"identity": "gw1", "permission": {"publish_as": {"identities": ["child-1"]}}}
    Then the answer is 204
    When the operator calls "getIdentityPermission" with {"identity": "gw1"}
    Then the answer's "publish_as.identities" is ["child-1"]
