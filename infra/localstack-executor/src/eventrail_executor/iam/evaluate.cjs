// eventrail's IAM evaluator process (Node): one warm process per LocalStack, answering
// authorisation questions with @cloud-copilot/iam-simulate.
//
// Why a separate process: iam-simulate implements AWS's policy evaluation logic (identity and
// resource policies, explicit denies, every condition operator and set operator), which
// LocalStack's free edition and moto do not. It is AGPL-3.0-or-later, so it stays a separately
// installed tool of the local stage (under .eventrail/), talked to over a pipe, never linked
// into or shipped with what users deploy.
//
// Protocol: one JSON object per line on stdin, one JSON object per line on stdout, in order.
//   in:  {"id": n, "simulation": <iam-simulate Simulation>}
//   out: {"id": n, "result": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied",
//         "denyStatements": [...], "unmatchedIdentity": [...], "unmatchedResource": [...]}
//     or {"id": n, "error": "<why the question could not be evaluated>"}
'use strict'

const path = require('node:path')
const readline = require('node:readline')

const modules = process.env.EVENTRAIL_IAM_MODULES
if (!modules) {
  process.stderr.write('EVENTRAIL_IAM_MODULES is not set (the node_modules holding iam-simulate)\n')
  process.exit(2)
}
// Resolve the package as code inside that node_modules' parent would (its "exports" map has
// no "main", so a plain path require would not find it).
const { createRequire } = require('node:module')
const { runSimulation } = createRequire(path.join(modules, '..', 'evaluator.cjs'))(
  '@cloud-copilot/iam-simulate',
)

// What a denial report needs of an evaluated statement: its policy, its Sid, and why it did
// not apply (action, resource, principal or which condition).
function summarise(entry, policyKind) {
  const explain = entry.explain || {}
  const failedConditions = (explain.conditions || [])
    .filter((c) => c && c.matches === false)
    .map((c) => ({ operator: c.operator, key: c.conditionKeyValue, unmatched: c.unmatchedValues || null }))
  return {
    policy: entry.policyId || policyKind,
    sid: (entry.statement && entry.statement.Sid) || explain.identifier || null,
    statement: entry.statement || null,
    actionMatch: entry.actionMatch !== false,
    resourceMatch: entry.resourceMatch !== false,
    principalMatch: entry.principalMatch || null,
    conditionMatch: entry.conditionMatch || null,
    failedConditions,
  }
}

function answer(id, response) {
  if (response.resultType === 'error') {
    return { id, error: JSON.stringify(response.errors) }
  }
  const results = response.resultType === 'single' ? [response.result] : response.results || []
  const denyStatements = []
  const unmatchedIdentity = []
  const unmatchedResource = []
  for (const result of results) {
    const analysis = (result && result.analysis) || {}
    const identity = analysis.identityAnalysis || {}
    const resource = analysis.resourceAnalysis || {}
    for (const s of identity.denyStatements || []) denyStatements.push(summarise(s, 'identity'))
    for (const s of resource.denyStatements || []) denyStatements.push(summarise(s, 'resource'))
    for (const s of identity.unmatchedStatements || []) unmatchedIdentity.push(summarise(s, 'identity'))
    for (const s of resource.unmatchedStatements || []) unmatchedResource.push(summarise(s, 'resource'))
  }
  return { id, result: response.overallResult, denyStatements, unmatchedIdentity, unmatchedResource }
}

const lines = readline.createInterface({ input: process.stdin, terminal: false })
let queue = Promise.resolve()
lines.on('line', (line) => {
  // Answers go out in the order questions came in.
  queue = queue.then(async () => {
    let id = null
    try {
      const question = JSON.parse(line)
      id = question.id
      const response = await runSimulation(question.simulation, {})
      process.stdout.write(JSON.stringify(answer(id, response)) + '\n')
    } catch (error) {
      process.stdout.write(JSON.stringify({ id, error: String((error && error.stack) || error) }) + '\n')
    }
  })
})
lines.on('close', () => {
  queue.then(() => process.exit(0))
})
