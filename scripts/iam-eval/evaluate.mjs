// Evaluates IAM requests against policies with @cloud-copilot/iam-simulate (test time only; see
// docs/link-contract.md). Reads a JSON array of cases on stdin:
//   {id, principal, action, resource, resourceAccount, context, resourcePolicy?, identityPolicies?}
// and prints a JSON array of {id, result, ignored} where result is iam-simulate's overall result
// ("Allowed", "ImplicitlyDenied", "ExplicitlyDenied") or "Error: ..." for a rejected input.
// `ignored` lists the context keys the evaluator did not use: a case that relies on one is not
// evaluated, and the caller must treat that as a failure, never as a denial.
import './patch.mjs'
const { runSimulation } = await import('@cloud-copilot/iam-simulate')

async function evaluate(cases) {
  const out = []
  for (const c of cases) {
    const simulation = {
      request: {
        principal: c.principal,
        action: c.action,
        resource: { resource: c.resource, accountId: c.resourceAccount },
        contextVariables: c.context || {}
      },
      identityPolicies: (c.identityPolicies || []).map((policy, i) => ({ name: `identity${i}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: []
    }
    if (c.resourcePolicy) simulation.resourcePolicy = c.resourcePolicy
    try {
      const r = await runSimulation(simulation, {})
      if (r.errors) {
        out.push({ id: c.id, result: 'Error: ' + JSON.stringify(r.errors), ignored: [] })
      } else {
        out.push({ id: c.id, result: r.overallResult, ignored: r.result?.ignoredContextKeys || [] })
      }
    } catch (e) {
      out.push({ id: c.id, result: 'Error: ' + e.message, ignored: [] })
    }
  }
  return out
}

if (process.argv.includes('--serve')) {
  // One JSON array of cases per line in, one JSON array of results per line out: the emulator
  // keeps one evaluator process for its life (scripts/emulator.py).
  const readline = await import('node:readline')
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (line.trim()) process.stdout.write(JSON.stringify(await evaluate(JSON.parse(line))) + '\n')
  }
} else {
  let input = ''
  for await (const chunk of process.stdin) input += chunk
  process.stdout.write(JSON.stringify(await evaluate(JSON.parse(input))))
}
