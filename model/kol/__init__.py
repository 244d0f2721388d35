"""KOL authenticity: private orders, disclosure habits and fake engagement, graded per account."""
