@connection-proving @serial
Feature: Connection proving
  PDP's connection proving test: a find request arrives, the organisation registers the
  pension identifier (PeI) it matched, and answers a view request for it through the UMA flow.
  Test data: testpacks/integration/pack.toml. Each scenario starts from cleared-down data.

  Background:
    Given the provider's test data has been cleared down

  @case:CP-01
  Scenario: A known member is found, registered as match-yes and viewed
    When the pension finder sends a find request for the member of test case "CP-01"
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    And exactly the PeIs expected by the test pack are registered within the registration limit
    And every registration has match status "match-yes", the scheme name as description and the find request's X-Request-ID as inbound_request_id
    When the dashboard requests the view data of each registered PeI through the UMA flow
    Then each view response is a valid view data token signed by the provider
    And the view data matches the registration and the test pack

  @case:CP-02 @negative
  Scenario: A view request without a token is refused with a permission ticket
    Given the member of test case "CP-02" has a registered PeI
    When the dashboard calls the view endpoint for the PeI of case "CP-02" without a token
    Then the provider answers 401 with a WWW-Authenticate header carrying as_uri and a ticket issued by the C&A for that PeI

  @case:CP-03 @negative
  Scenario: An RPT issued for another resource is refused
    Given the members of test cases "CP-03" and "CP-03B" have registered PeIs
    When the dashboard presents, for the PeI of case "CP-03", an RPT issued for the PeI of case "CP-03B"
    Then the provider refuses the view request and returns no view data
