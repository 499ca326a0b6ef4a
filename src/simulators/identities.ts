/**
 * Identity pools: usernames, countries and the item shop. Built once at start from a seeded
 * @faker-js/faker instance per locale (faker is far too slow for the per-event path, and its output for
 * a seed is fixed for a given faker version, which package-lock pins). Everything per event is then an
 * index into these pools, chosen by the simulator's own PRNG.
 */
import { allLocales, base, en, Faker, type LocaleDefinition } from '@faker-js/faker';
import { REGION_CODES, REGION_PROFILES, type RegionCode } from './regions.js';

/** Largest username pool per region; beyond it names get a numeric suffix (unique enough for a game). */
const USERNAME_POOL_MAX = 4096;
const COUNTRY_POOL_SIZE = 1024;

export const PRICE_POINTS_CENTS = [99, 199, 499, 999, 1999, 4999, 9999] as const;

export interface ShopItem {
  itemId: string;
  itemName: string;
  category: string;
  priceCents: number;
  /** Index into PRICE_POINTS_CENTS. */
  tier: number;
}

export interface RegionIdentities {
  usernames: string[];
  /** Countries drawn by the region's country shares; a player takes one entry at random. */
  countryPool: string[];
}

export interface IdentityPools {
  regions: Record<RegionCode, RegionIdentities>;
  /** Items grouped by price tier (index into PRICE_POINTS_CENTS); every tier holds at least one item. */
  itemsByTier: ShopItem[][];
}

function fakerFor(localeName: string, seed: number): Faker {
  const locale = (allLocales as Record<string, LocaleDefinition>)[localeName] ?? en;
  const faker = new Faker({ locale: [locale, en, base] });
  faker.seed(seed);
  return faker;
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** ASCII handle, 3–24 characters: what most game services allow. */
function sanitizeHandle(raw: string, fallback: string): string {
  const cleaned = raw
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9._-]/g, '')
    .slice(0, 24);
  return cleaned.length >= 3 ? cleaned : fallback;
}

function buildUsernames(region: RegionCode, count: number, seed: number): string[] {
  const profile = REGION_PROFILES[region];
  const fakers = profile.locales.map((name, i) => fakerFor(name, seed + 7919 * (i + 1)));
  const tags = fakerFor('en', seed + 104_729);
  const names: string[] = [];
  const size = Math.min(count, USERNAME_POOL_MAX);
  for (let i = 0; i < size; i++) {
    const fallback = `player${i}`;
    if (i % 3 === 2) {
      // Gamer tags ("SwiftFalcon417") next to name-based handles.
      const tag = `${capitalize(tags.word.adjective())}${capitalize(tags.animal.type())}${tags.number.int(999)}`;
      names.push(sanitizeHandle(tag, fallback));
    } else {
      const faker = fakers[i % fakers.length] as Faker;
      names.push(sanitizeHandle(faker.internet.username(), fallback));
    }
  }
  return names;
}

function buildCountryPool(region: RegionCode, seed: number): string[] {
  const faker = fakerFor('en', seed);
  const weighted = REGION_PROFILES[region].countries.map(([value, weight]) => ({ value, weight }));
  return Array.from({ length: COUNTRY_POOL_SIZE }, () => faker.helpers.weightedArrayElement(weighted));
}

const COSMETIC_KINDS = ['Skin', 'Emote', 'Banner', 'Weapon Wrap', 'Trail', 'Glider', 'Helmet'];
const WEAPON_KINDS = ['Blade', 'Bow', 'Axe', 'Hammer', 'Staff', 'Rifle', 'Crossbow'];
const CURRENCY_AMOUNTS = [100, 220, 600, 1300, 2800, 7500, 16000];

/** Which categories sell at each price point, cheapest first. */
const TIER_CATEGORIES: readonly (readonly string[])[] = [
  ['booster', 'cosmetic', 'currency'],
  ['booster', 'cosmetic', 'currency'],
  ['cosmetic', 'weapon', 'currency', 'booster'],
  ['cosmetic', 'weapon', 'battle_pass', 'currency'],
  ['bundle', 'cosmetic', 'currency'],
  ['bundle', 'currency'],
  ['bundle', 'currency'],
];
const ITEMS_PER_TIER = 8;

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

function buildShop(seed: number): ShopItem[][] {
  const faker = fakerFor('en', seed);
  const seen = new Set<string>();
  return PRICE_POINTS_CENTS.map((priceCents, tier) => {
    const categories = TIER_CATEGORIES[tier] as readonly string[];
    const items: ShopItem[] = [];
    for (let i = 0; i < ITEMS_PER_TIER; i++) {
      const category = categories[i % categories.length] as string;
      let itemName: string;
      switch (category) {
        case 'currency':
          itemName = `${CURRENCY_AMOUNTS[tier]} ${capitalize(faker.commerce.productMaterial())} Coins`;
          break;
        case 'booster':
          itemName = `${capitalize(faker.word.adjective())} XP Booster (${[1, 3, 24][i % 3]}h)`;
          break;
        case 'weapon':
          itemName = `${faker.commerce.productAdjective()} ${faker.commerce.productMaterial()} ${faker.helpers.arrayElement(WEAPON_KINDS)}`;
          break;
        case 'battle_pass':
          itemName = `Season ${faker.number.int({ min: 1, max: 12 })} Battle Pass`;
          break;
        case 'bundle':
          itemName = `${capitalize(faker.word.adjective())} ${capitalize(faker.animal.type())} Bundle`;
          break;
        default:
          itemName = `${capitalize(faker.animal.type())}${faker.helpers.arrayElement(['scale', 'fang', 'wing', 'claw'])} ${faker.commerce.productMaterial()} ${faker.helpers.arrayElement(COSMETIC_KINDS)}`;
      }
      let itemId = `${category.replace('_', '')}-${slug(itemName)}`.slice(0, 60);
      while (seen.has(itemId)) itemId = `${itemId.slice(0, 56)}-${faker.number.int({ min: 10, max: 99 })}`;
      seen.add(itemId);
      items.push({ itemId, itemName, category, priceCents, tier });
    }
    return items;
  });
}

/** Builds every pool for the chosen regions; `playersPerRegion[i]` belongs to `regions[i]`. */
export function buildIdentityPools(
  seed: number,
  regions: readonly RegionCode[],
  playersPerRegion: readonly number[],
): IdentityPools {
  const pools = {} as Record<RegionCode, RegionIdentities>;
  for (const [i, region] of regions.entries()) {
    // Seeded by the region itself, so a region's players look the same whichever regions run beside it.
    const regionSeed = (seed ^ Math.imul(REGION_CODES.indexOf(region) + 1, 0x2545f491)) >>> 0;
    pools[region] = {
      usernames: buildUsernames(region, playersPerRegion[i] as number, regionSeed),
      countryPool: buildCountryPool(region, regionSeed + 1),
    };
  }
  return { regions: pools, itemsByTier: buildShop(seed ^ 0x5bd1e995) };
}
