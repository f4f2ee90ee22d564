import { duration } from '../render/table.js'
import type { RunSummary } from './summary.js'

export interface SlackMessage {
  text: string
  unfurl_links: boolean
  unfurl_media: boolean
}

const ICON: Record<RunSummary['result'], string> = {
  succeeded: ':white_check_mark:',
  failed: ':x:',
  interrupted: ':warning:',
}

/** A failure reason can be a page of terraform output; the channel needs its gist. */
const MAX_REASON = 400

/** Slack mrkdwn treats &, < and > as markup: escape everything that did not come from us. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function firstLines(text: string): string {
  const flat = text.trim().split('\n').slice(0, 3).join(' ').replace(/\s+/g, ' ')
  return flat.length > MAX_REASON ? `${flat.slice(0, MAX_REASON - 1)}…` : flat
}

function link(target: string, label: string): string {
  return /^https?:\/\//.test(target) ? `<${target}|${label}>` : `${label}: \`${escapeMrkdwn(target)}\``
}

/**
 * The short message posted when a run finishes: who, environment, release, result, duration,
 * the failed step and its reason, the report. `text` only (no blocks): it reads the same in the
 * channel, in the desktop notification and in an email digest.
 */
export function slackMessage(s: RunSummary, who: string, ciRun?: string): SlackMessage {
  const lines = [
    `${ICON[s.result]} autolytiq ${escapeMrkdwn(s.command)} *${s.result}* on *${escapeMrkdwn(s.environment)}* — release ${escapeMrkdwn(s.release)}`,
    `By ${escapeMrkdwn(who)} · took ${duration(s.durationMs)}${s.runId ? ` · run ${escapeMrkdwn(s.runId)}` : ''}`,
  ]
  if (s.outcome) lines.push(escapeMrkdwn(s.outcome))
  if (s.result !== 'succeeded') {
    const where = s.failedStep ? `${s.result === 'interrupted' ? 'Interrupted at' : 'Failed step:'} \`${escapeMrkdwn(s.failedStep)}\`` : ''
    const why = s.reason ? escapeMrkdwn(firstLines(s.reason)) : ''
    if (where || why) lines.push([where, why].filter(Boolean).join(' — '))
  }
  if (s.rollback) lines.push(`Automatic rollback: ${escapeMrkdwn(firstLines(s.rollback))}`)
  const links = [s.report ? link(s.report, 'Report') : '', ciRun ? link(ciRun, 'CI run') : ''].filter(Boolean)
  if (links.length) lines.push(links.join(' · '))
  return { text: lines.join('\n'), unfurl_links: false, unfurl_media: false }
}
