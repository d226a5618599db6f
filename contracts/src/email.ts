/**
 * One spelling per email address (docs/security.md): surrounding space trimmed, Unicode NFC
 * (a precomposed `é` and `e` + combining accent are one letter), lower case. Stored in this form
 * and compared byte for byte, so `Séc@…`, `se\u0301c@…` and `séc@…` are one account, while
 * `sec@…` and `śec@…` stay two. NFC again after lower-casing: lower-casing can decompose.
 */
export const normalizeEmail = (email: string): string => email.trim().normalize('NFC').toLowerCase().normalize('NFC');
