/**
 * Stored bootstrap profiles for the Bootstrap view: the same store `dmw bootstrap save|list` uses
 * (main/bootstrap/store.ts, `$DMW_HOME/profiles`), so a profile saved in the UI is one the CLI builds
 * and the other way round. Registered in contract.ts.
 *
 * This module runs in the browser too: zod only, never Node.
 */
import { z } from 'zod';

/** A profile id as the store takes it (letters, digits, . _ -; at most 64). */
export const PROFILE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const profileId = z.string().regex(PROFILE_ID, 'a profile id: letters, digits, . _ - (at most 64), starting with a letter or digit');
const ProfileJson = z.record(z.string(), z.unknown());

export const StoredProfilesSchema = z.object({
  /** The folder the profiles are in (for the CLI: `dmw bootstrap list`). */
  dir: z.string(),
  profiles: z.array(z.object({ id: z.string(), serverId: z.string().nullable(), address: z.string().nullable(), error: z.string().nullable() })),
});
export type StoredProfiles = z.infer<typeof StoredProfilesSchema>;

export const ProfileSaveResultSchema = z.object({
  ok: z.boolean(),
  id: z.string(),
  /** The file written, when saved. */
  file: z.string().nullable(),
  /** Every field at fault when the profile was not saved. */
  errors: z.array(z.object({ field: z.string(), message: z.string() })),
});
export type ProfileSaveResult = z.infer<typeof ProfileSaveResultSchema>;

export const profileChannels = {
  /** Stored profiles, with their server and address (or why one does not read). */
  'bootstrap.profiles': { input: z.object({}).strict(), output: StoredProfilesSchema },
  /** Validate and store a profile under an id (replaces one with that id). */
  'bootstrap.save': { input: z.object({ id: profileId, profile: ProfileJson }).strict(), output: ProfileSaveResultSchema },
  /** A stored profile, as the JSON the Bootstrap view edits. */
  'bootstrap.load': { input: z.object({ id: profileId }).strict(), output: z.object({ id: z.string(), profile: ProfileJson }) },
} as const;
