@stage2 @depends-on:stage1
Feature: Stage 2 - the match updates achieved the expected results
  PDP's stage 2: after stage 1 the organisation receives a file of match updates
  (match-updates.json in the run directory) and applies it in its own system. On the embedded
  default the harness applies it to the reference provider. Each scenario checks one update at
  the C&A and through the view endpoint. Runs after stage 1 in the same run, or later with
  `run --pack stage2 --after <stage-1 run id>` once the organisation has applied the file.

  Scenario Outline: <title>
    Then the C&A shows match update "<update>" applied within the update limit
    And the view of the PeI of match update "<update>" reflects it

    @case:S2-01
    Examples: possible match confirmed
      | update | title                                                                  |
      | U-01   | A confirmed possible match is PATCHed to match-yes and shows full data  |

    @case:S2-02
    Examples: possible match rejected
      | update | title                                                                  |
      | U-02   | A rejected possible match is deleted with match-no                       |

    @case:S2-03
    Examples: possible match timed out
      | update | title                                                                  |
      | U-03   | An unconfirmed possible match is deleted with match-timeout              |

    @case:S2-04
    Examples: match withdrawn
      | update | title                                                                  |
      | U-04   | An erroneous match-yes is withdrawn with match-withdrawn                 |

    @case:S2-05
    Examples: asset removed
      | update | title                                                                  |
      | U-05   | A removed asset is deleted with asset-removed and its view refused       |
